// The gRPC benchmark's upstream and its check: `serve PORT_FILE` starts the Echo service of the gRPC e2e tests
// (@grpc/grpc-js, h2c) on a free port, writes the port to PORT_FILE and prints how many unary calls it answered when
// it gets SIGTERM; `call ADDRESS AUTHORITY` makes one real unary call (exit 0 when it answers OK).
import fs from 'node:fs';
import { startGrpcServer, echoClient, unary, json, parse } from '../tests/e2e/lib/grpc.mjs';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'serve') {
  const server = await startGrpcServer({ record: false });
  fs.writeFileSync(a, `${server.port}\n`);
  process.on('SIGTERM', () => {
    process.stdout.write(`${server.seen.count}\n`);
    server.kill();
    process.exit(0);
  });
} else if (mode === 'call') {
  const client = echoClient(a, { authority: b });
  const r = await unary(client, 'unary', json({ echo: 'bench' }));
  client.close();
  if (parse(r.message).echo !== 'bench') throw new Error('unexpected answer');
  console.log('ok');
} else {
  console.error('usage: grpc-upstream.mjs serve PORT_FILE | call ADDRESS AUTHORITY');
  process.exit(2);
}
