// Preloaded before the agent runner (see Dockerfile). Modes:
//   hang     probe the network and the service-account token, print the findings, then hang
//            until the pod's activeDeadlineSeconds kills it
//   hog      allocate (and touch) memory until the cgroup OOM-kills the container
//   corrupt  print a result envelope whose body is not base64+gzip, also as the
//            termination message, and exit 0 as if the stage had finished
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** 'connected' or why not, within 3 s. */
function tryConnect(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    const done = (outcome) => {
      socket.destroy();
      resolve(outcome);
    };
    socket.once('connect', () => done('connected'));
    socket.once('timeout', () => done('timeout'));
    socket.once('error', (err) => done(err.code ?? String(err)));
  });
}

const mode = process.env.SCALESWE_MISBEHAVE;
if (mode === 'hang') {
  // NetworkPolicy engines program a new pod's rules asynchronously: probe once they settle.
  await sleep(8000);
  const plan = JSON.parse(process.env.SCALESWE_PROBE_PLAN || '{}');
  const connections = {};
  await Promise.all(
    Object.entries(plan).map(async ([name, { host, port }]) => {
      connections[name] = await tryConnect(host, port);
    }),
  );
  const report = { token: existsSync(TOKEN), connections };
  process.stdout.write(`SCALESWE-PROBE ${JSON.stringify(report)}\n`);
  setInterval(() => {}, 60_000);
  await new Promise(() => {});
} else if (mode === 'hog') {
  const held = [];
  for (;;) held.push(Buffer.alloc(16 * 1024 * 1024, 1));
} else if (mode === 'corrupt') {
  const envelope = `${process.env.SCALESWE_ENVELOPE_BEGIN}\n***this is not base64 gzip***\n${process.env.SCALESWE_ENVELOPE_END}\n`;
  process.stdout.write(envelope);
  writeFileSync('/dev/termination-log', envelope);
  process.exit(0);
}
