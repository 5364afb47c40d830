// A small YAML writer for test configs: block style, so the line numbers in Postern's config errors point at
// something a human can find. Strings are always double-quoted (JSON escapes are valid YAML escapes), numbers,
// booleans and null are plain.

const plainKey = /^[A-Za-z_][A-Za-z0-9_.\-]*$/;

function scalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(String(v));
}

function key(k) {
  return plainKey.test(k) ? k : JSON.stringify(k);
}

function isCollection(v) {
  return v !== null && typeof v === 'object';
}

function emit(value, indent, lines) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    for (const item of value) {
      if (Array.isArray(item) && item.length) {
        lines.push(`${pad}-`);
        emit(item, indent + 2, lines);
      } else if (isCollection(item) && !Array.isArray(item) && Object.keys(item).length) {
        const sub = [];
        emit(item, indent + 2, sub);
        sub[0] = `${pad}- ${sub[0].slice(indent + 2)}`;
        lines.push(...sub);
      } else {
        lines.push(`${pad}- ${inline(item)}`);
      }
    }
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (isCollection(v) && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
      lines.push(`${pad}${key(k)}:`);
      emit(v, indent + 2, lines);
    } else {
      lines.push(`${pad}${key(k)}: ${inline(v)}`);
    }
  }
}

function inline(v) {
  if (Array.isArray(v)) return v.length ? `[${v.map(inline).join(', ')}]` : '[]';
  if (isCollection(v)) {
    const e = Object.entries(v);
    return e.length ? `{${e.map(([k, x]) => `${key(k)}: ${inline(x)}`).join(', ')}}` : '{}';
  }
  return scalar(v);
}

/** Render a plain object as block-style YAML text (ends with a newline). */
export function toYaml(obj) {
  if (!isCollection(obj) || Array.isArray(obj)) {
    const lines = [];
    emit(obj, 0, lines);
    return lines.join('\n') + '\n';
  }
  const lines = [];
  emit(obj, 0, lines);
  return lines.join('\n') + '\n';
}
