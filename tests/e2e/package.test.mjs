// The Debian package: packaging/build-deb.sh run on $POSTERN_BIN into a temp dir, then the .deb taken apart with
// dpkg-deb: its file list and modes, control fields (Depends from dpkg-shlibdeps), conffiles and md5sums, the
// systemd unit (its settings, and `systemd-analyze verify` on the shipped file in the extracted tree), the packaged
// binary's --version and `validate` of the shipped config, `sh -n` on the maintainer scripts; as root also a real
// install, reinstall, remove and purge with `dpkg --root` into a throwaway root (the scripts honour DPKG_ROOT).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { POSTERN_BIN, REPO_ROOT } from './lib/postern.mjs'; // not index.mjs: nothing here needs ws
import { baseEnv, registerCleanupDir } from './lib/proc.mjs';

const SBIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs a command to its end: { code, stdout, stderr } (never rejects for a non-zero exit). */
function run(cmd, args, { env, cwd, timeout = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { env: env ?? { ...baseEnv(), PATH: SBIN_PATH }, cwd, timeout, maxBuffer: 16 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err); // ENOENT, timeout
        resolve({ code: err ? err.code : 0, stdout, stderr });
      },
    );
  });
}

async function ok(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

function has(tool) {
  return SBIN_PATH.split(':').some((d) => {
    try {
      fs.accessSync(path.join(d, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** `Key: value` paragraphs of a Debian control file (continuation lines joined with \n). */
function parseControl(text) {
  const fields = {};
  let last;
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && last) fields[last] += '\n' + line.trim();
    else if (/^[\w-]+:/.test(line)) {
      const i = line.indexOf(':');
      last = line.slice(0, i);
      fields[last] = line.slice(i + 1).trim();
    }
  }
  return fields;
}

/** A systemd unit as { 'Section.Key': [values...] }, comments and blank lines skipped. */
function parseUnit(text) {
  const out = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1];
      continue;
    }
    const i = line.indexOf('=');
    const key = `${section}.${line.slice(0, i)}`;
    (out[key] ??= []).push(line.slice(i + 1));
  }
  return out;
}

const mkTemp = (prefix) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  registerCleanupDir(d);
  return d;
};

describe('Debian package (packaging/build-deb.sh)', { concurrency: true }, () => {
  let version, arch, deb, root, control, work;

  before(async () => {
    const v = await ok(POSTERN_BIN, ['--version'], { env: baseEnv() });
    version = /^postern (\S+)/.exec(v.stdout)?.[1];
    assert.ok(version, `no version in: ${v.stdout}`);
    arch = (await ok('dpkg', ['--print-architecture'])).stdout.trim();

    work = mkTemp('postern-deb-');
    const script = path.join(REPO_ROOT, 'packaging/build-deb.sh');
    const built = await ok('bash', [script, POSTERN_BIN, path.join(work, 'out')], {
      env: { ...baseEnv(), PATH: SBIN_PATH, DEB_COMPRESS_LEVEL: '1' }, // xz -1: seconds faster on a large binary
      timeout: 60000,
    });
    deb = built.stdout.trim().split('\n').at(-1);
    root = path.join(work, 'root');
    control = path.join(work, 'control');
    await ok('dpkg-deb', ['-x', deb, root]);
    await ok('dpkg-deb', ['-e', deb, control]);
  });

  it('is named postern_<version>_<arch>.deb after `postern --version` and dpkg\'s architecture', () => {
    assert.equal(deb, path.join(work, 'out', `postern_${version}_${arch}.deb`));
    assert.ok(fs.statSync(deb).size > 0);
  });

  it('holds exactly the binary, the unit, the config and the docs, all root:root with the right modes', async () => {
    const { stdout } = await ok('dpkg-deb', ['-c', deb]);
    const entries = new Map();
    for (const line of stdout.trim().split('\n')) {
      // -rwxr-xr-x root/root   976136 2026-12-06 08:02 ./usr/bin/postern
      const m = /^(\S{10}) (\S+)\s+\d+ \S+ \S+ (\.\/\S*)$/.exec(line);
      assert.ok(m, `unexpected dpkg-deb -c line: ${line}`);
      assert.equal(m[2], 'root/root', `${m[3]} is owned by ${m[2]}`);
      entries.set(m[3], m[1]);
    }
    const files = {
      './usr/bin/postern': /^-rwxr-xr-x$/,
      './lib/systemd/system/postern.service': /^-rw-r--r--$/,
      './etc/postern/config.yaml': /^-rw-r-(?:-r--|----)$/, // 0644 or 0640
      './usr/share/doc/postern/copyright': /^-rw-r--r--$/,
      [`./usr/share/doc/postern/${version.includes('-') ? 'changelog.Debian.gz' : 'changelog.gz'}`]: /^-rw-r--r--$/,
    };
    const dirs = new Set(['./']);
    for (const f of Object.keys(files)) {
      for (let d = path.posix.dirname(f); d !== '.'; d = path.posix.dirname(d)) dirs.add(`${d}/`);
    }
    assert.deepEqual([...entries.keys()].sort(), [...Object.keys(files), ...dirs].sort());
    for (const [f, mode] of Object.entries(files)) assert.match(entries.get(f), mode, f);
    for (const d of dirs) assert.equal(entries.get(d), 'drwxr-xr-x', d);
  });

  it('ships a stripped binary: no symbol table', async () => {
    const { stdout } = await ok('readelf', ['-S', '-W', path.join(root, 'usr/bin/postern')]);
    assert.doesNotMatch(stdout, /\s\.symtab\s/);
    assert.doesNotMatch(stdout, /\s\.debug_info\s/);
  });

  it('has the control fields, with Depends from the libraries the binary links (libssl3 among them)', async () => {
    const fields = parseControl((await ok('dpkg-deb', ['-f', deb])).stdout);
    assert.equal(fields.Package, 'postern');
    assert.equal(fields.Version, version);
    assert.equal(fields.Architecture, arch);
    assert.match(fields.Maintainer, /^.+ <[^<>@\s]+@[^<>@\s]+>$/);
    assert.equal(fields.Section, 'net');
    assert.equal(fields.Priority, 'optional');
    assert.match(fields['Installed-Size'], /^\d+$/);
    assert.match(fields.Description, /^\S.*\n\S/, 'a synopsis line and a long description');
    const depends = fields.Depends.split(',').map((d) => d.trim());
    for (const d of depends) assert.match(d, /^[a-z0-9][a-z0-9+.-]+( \((>=|<=|=|<<|>>) [^()\s]+\))?$/, d);
    const names = depends.map((d) => d.split(' ')[0]);
    assert.ok(names.includes('libc6'), fields.Depends);
    assert.ok(names.some((n) => /^libssl\d/.test(n)), `no OpenSSL library package in Depends: ${fields.Depends}`);
    assert.ok(names.includes('passwd'), 'postinst runs useradd');
    assert.ok(names.includes('procps'), "the unit's ExecReload runs /bin/kill");
    // Cross-check dpkg-shlibdeps: each library the binary names as NEEDED belongs to a package in Depends.
    const dynamic = (await ok('readelf', ['-d', POSTERN_BIN])).stdout;
    const needed = [...dynamic.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]);
    assert.ok(needed.some((n) => /^libssl\.so/.test(n)), `the binary does not link libssl: ${needed}`);
    // One dpkg-query for all: each line is `pkg[:arch][, pkg…]: /path/to/soname`.
    const owners = new Map(needed.map((n) => [n, []]));
    for (const line of (await ok('dpkg-query', ['-S', ...needed.map((n) => `*/${n}`)])).stdout.split('\n')) {
      const at = line.indexOf(': /');
      if (at < 0 || !owners.has(path.basename(line.slice(at + 2)))) continue;
      owners.get(path.basename(line.slice(at + 2))).push(...line.slice(0, at).split(', ').map((p) => p.split(':')[0]));
    }
    // A shlibs file may name a virtual package the owner provides (libspdlog1.10 provides libspdlog1.10-fmt9).
    const all = [...new Set([...owners.values()].flat())];
    const provides = new Map(
      (await ok('dpkg-query', ['-W', '-f=${Package}\t${Provides}\n', ...all])).stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [pkg, prov = ''] = l.split('\t');
          return [pkg, prov.split(',').map((p) => p.trim().split(' ')[0]).filter(Boolean)];
        }),
    );
    for (const [soname, pkgs] of owners) {
      const candidates = pkgs.flatMap((p) => [p, ...(provides.get(p) ?? [])]);
      assert.ok(
        candidates.some((c) => names.includes(c)),
        `${soname} (from ${pkgs}) has no package in Depends: ${fields.Depends}`,
      );
    }
  });

  it('lists /etc/postern/config.yaml as its only conffile, and md5sums covers every other file', async () => {
    assert.equal(fs.readFileSync(path.join(control, 'conffiles'), 'utf8'), '/etc/postern/config.yaml\n');
    const sums = new Map(
      fs
        .readFileSync(path.join(control, 'md5sums'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const [sum, file] = l.split(/\s+/);
          return [file, sum];
        }),
    );
    assert.deepEqual(
      [...sums.keys()].sort(),
      ['usr/bin/postern', 'lib/systemd/system/postern.service', 'usr/share/doc/postern/copyright',
        `usr/share/doc/postern/${version.includes('-') ? 'changelog.Debian.gz' : 'changelog.gz'}`].sort(),
    );
    for (const [file, sum] of sums) {
      assert.equal(crypto.createHash('md5').update(fs.readFileSync(path.join(root, file))).digest('hex'), sum, file);
    }
  });

  it('ships a hardened Type=notify unit that runs /usr/bin/postern as postern', () => {
    const unit = parseUnit(fs.readFileSync(path.join(root, 'lib/systemd/system/postern.service'), 'utf8'));
    const want = {
      'Service.Type': 'notify',
      'Service.NotifyAccess': 'main',
      'Service.User': 'postern',
      'Service.Group': 'postern',
      'Service.ExecStart': '/usr/bin/postern --config /etc/postern/config.yaml',
      'Service.ExecReload': '/bin/kill -HUP $MAINPID',
      'Service.Restart': 'on-failure',
      'Service.KillSignal': 'SIGTERM',
      'Service.TimeoutStopSec': '20',
      'Service.LimitNOFILE': '65536',
      'Service.StateDirectory': 'postern',
      'Service.AmbientCapabilities': 'CAP_NET_BIND_SERVICE',
      'Service.CapabilityBoundingSet': 'CAP_NET_BIND_SERVICE',
      'Service.NoNewPrivileges': 'yes',
      'Service.ProtectSystem': 'strict',
      'Service.ProtectHome': 'yes',
      'Service.PrivateTmp': 'yes',
      'Service.PrivateDevices': 'yes',
      'Service.ProtectKernelTunables': 'yes',
      'Service.ProtectKernelModules': 'yes',
      'Service.ProtectControlGroups': 'yes',
      'Service.RestrictAddressFamilies': 'AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      'Service.RestrictNamespaces': 'yes',
      'Service.LockPersonality': 'yes',
      'Service.MemoryDenyWriteExecute': 'yes',
      'Service.SystemCallArchitectures': 'native',
      'Install.WantedBy': 'multi-user.target',
    };
    for (const [key, value] of Object.entries(want)) assert.deepEqual(unit[key], [value], key);
  });

  it('passes `systemd-analyze verify` as shipped, checked inside the extracted tree', async (t) => {
    if (!has('systemd-analyze')) return t.skip('systemd-analyze is not installed (Debian package systemd)');
    // The extracted package plus what the OS provides: the targets the unit is ordered against, and /bin/kill
    // (ExecReload; procps, in Depends; a stand-in here). --root makes systemd look for ExecStart's
    // /usr/bin/postern in this tree, not on this machine.
    const vroot = path.join(mkTemp('postern-deb-verify-'), 'root');
    await ok('cp', ['-a', root, vroot]);
    const units = path.join(vroot, 'lib/systemd/system');
    const hostUnits = ['/lib/systemd/system', '/usr/lib/systemd/system'].find((d) => fs.existsSync(d));
    for (const f of fs.readdirSync(hostUnits).filter((f) => f.endsWith('.target'))) {
      fs.copyFileSync(path.join(hostUnits, f), path.join(units, f));
    }
    fs.mkdirSync(path.join(vroot, 'bin'));
    fs.writeFileSync(path.join(vroot, 'bin/kill'), '#!/bin/sh\n', { mode: 0o755 });

    const args = ['verify', `--root=${vroot}`, '/lib/systemd/system/postern.service'];
    const r = await run('systemd-analyze', args, { cwd: vroot });
    assert.equal(r.code, 0, `systemd-analyze ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    assert.equal(r.stderr.trim(), '', 'no warnings (an unknown key or a bad value is only a warning)');

    // Its exposure score stays "OK" or better (systemd-analyze security: 3.4 as shipped).
    const security = ['security', '--offline=yes', `--root=${vroot}`, '--threshold=45', 'postern.service'];
    const s = await run('systemd-analyze', security);
    assert.equal(s.code, 0, `exposure over 4.5:\n${s.stdout.split('\n').slice(-3).join('\n')}${s.stderr}`);

    // And the check is real: without the binary in the tree, verify fails on ExecStart.
    fs.rmSync(path.join(vroot, 'usr/bin/postern'));
    const missing = await run('systemd-analyze', args, { cwd: vroot });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /\/usr\/bin\/postern/);
  });

  it('runs the packaged binary: --version; validate accepts the shipped config and its example routes', async () => {
    const bin = path.join(root, 'usr/bin/postern');
    const v = await ok(bin, ['--version'], { env: baseEnv() });
    assert.equal(v.stdout.split('\n')[0], `postern ${version}`);

    const config = path.join(root, 'etc/postern/config.yaml');
    const r = await ok(bin, ['validate', '--config', config], { env: baseEnv() });
    assert.match(r.stdout, /configuration OK: 0 route\(s\)/);
    assert.doesNotMatch(r.stderr, /warning/i);

    // The commented routes: uncommented, they are valid too.
    const text = fs.readFileSync(config, 'utf8');
    const at = text.indexOf('# routes:');
    assert.ok(at >= 0, 'the config shows a routes example');
    const uncommented = text.slice(0, at) + text.slice(at).replace(/^# ?/gm, '');
    const file = path.join(mkTemp('postern-deb-config-'), 'config.yaml');
    fs.writeFileSync(file, uncommented);
    const u = await run(bin, ['validate', '--config', file], { env: baseEnv() });
    assert.equal(u.code, 0, `uncommented routes:\n${uncommented.slice(at)}\n${u.stdout}${u.stderr}`);
    assert.match(u.stdout, /configuration OK: 2 route\(s\)/);
  });

  it('has executable POSIX sh maintainer scripts with set -e that `sh -n` accepts', async () => {
    for (const name of ['postinst', 'prerm', 'postrm']) {
      const file = path.join(control, name);
      assert.equal(fs.statSync(file).mode & 0o777, 0o755, name);
      const text = fs.readFileSync(file, 'utf8');
      assert.match(text, /^#!\/bin\/sh\n/, name);
      assert.match(text, /^set -e$/m, name);
      await ok('sh', ['-n', file]);
    }
  });

  it(
    'installs, reinstalls, removes and purges with dpkg --root into a throwaway root',
    {
      skip:
        process.getuid?.() !== 0 &&
        'needs root: the scripts run on this machine (dpkg --force-script-chrootless) and useradd --prefix / chgrp ' +
          'need root even on another tree',
    },
    async () => {
      const R = path.join(mkTemp('postern-deb-install-'), 'root');
      for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/log', 'etc']) {
        fs.mkdirSync(path.join(R, d), { recursive: true });
      }
      fs.writeFileSync(path.join(R, 'var/lib/dpkg/status'), '');
      fs.writeFileSync(path.join(R, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
      fs.writeFileSync(path.join(R, 'etc/group'), 'root:x:0:\n');
      fs.writeFileSync(path.join(R, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
      fs.writeFileSync(path.join(R, 'etc/gshadow'), 'root:*::\n', { mode: 0o640 });
      const hostPasswd = fs.readFileSync('/etc/passwd', 'utf8');
      const dpkg = (...args) =>
        ok('dpkg', [
          `--root=${R}`,
          `--log=${path.join(R, 'var/log/dpkg.log')}`,
          '--force-not-root',
          '--force-script-chrootless',
          '--force-depends',
          ...args,
        ]);
      const entry = (db, name) =>
        fs
          .readFileSync(path.join(R, 'etc', db), 'utf8')
          .split('\n')
          .filter((l) => l.startsWith(`${name}:`))
          .map((l) => l.split(':'));
      const wants = path.join(R, 'etc/systemd/system/multi-user.target.wants/postern.service');
      const config = path.join(R, 'etc/postern/config.yaml');
      const state = path.join(R, 'var/lib/postern');

      await dpkg('-i', deb);
      const query = [`--admindir=${path.join(R, 'var/lib/dpkg')}`, '-W', '-f=${Status} ${Version}', 'postern'];
      assert.equal((await ok('dpkg-query', query)).stdout, `install ok installed ${version}`);
      const [user] = entry('passwd', 'postern');
      const [group] = entry('group', 'postern');
      assert.ok(user && group, 'postinst created the postern user and group');
      assert.equal(user[3], group[2], 'primary group postern');
      assert.equal(user[5], '/var/lib/postern');
      assert.equal(user[6], '/usr/sbin/nologin');
      assert.ok(Number(user[2]) < 1000, `a system uid, got ${user[2]}`);
      const st = fs.statSync(state);
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o777, 0o750);
      assert.equal(`${st.uid}:${st.gid}`, `${user[2]}:${group[2]}`);
      const cst = fs.statSync(config);
      assert.equal(cst.mode & 0o777, 0o640, 'the config is readable by root and postern only');
      assert.equal(`${cst.uid}:${cst.gid}`, `0:${group[2]}`);
      assert.equal(fs.readlinkSync(wants), '/lib/systemd/system/postern.service', 'enabled for multi-user.target');
      assert.ok(fs.statSync(path.join(R, 'usr/bin/postern')).mode & 0o100);

      // An admin's edit (secrets, a tighter mode) survives a reinstall, which runs the scripts again.
      fs.appendFileSync(config, '# edited by the admin\n');
      fs.chmodSync(config, 0o600);
      await dpkg('-i', deb);
      assert.equal(entry('passwd', 'postern').length, 1, 'one postern user after a reinstall');
      assert.equal(entry('group', 'postern').length, 1, 'one postern group after a reinstall');
      assert.match(fs.readFileSync(config, 'utf8'), /# edited by the admin\n$/);
      assert.equal(fs.statSync(config).mode & 0o777, 0o600);

      // Remove: the binary goes, the config, state and user stay; the unit is masked.
      await dpkg('-r', 'postern');
      assert.ok(!fs.existsSync(path.join(R, 'usr/bin/postern')));
      assert.ok(fs.existsSync(config) && fs.existsSync(state));
      assert.equal(fs.readlinkSync(path.join(R, 'etc/systemd/system/postern.service')), '/dev/null');

      // Purge: config, state directory, enablement and mask go; the user stays (Debian's practice).
      await dpkg('-P', 'postern');
      for (const gone of [config, state, wants, path.join(R, 'etc/systemd/system/postern.service')]) {
        assert.ok(!fs.existsSync(gone) && !isLink(gone), `${gone} is still there after purge`);
      }
      assert.equal(entry('passwd', 'postern').length, 1);
      assert.equal(fs.readFileSync('/etc/passwd', 'utf8'), hostPasswd, "this machine's /etc/passwd is untouched");
    },
  );
});

function isLink(p) {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
