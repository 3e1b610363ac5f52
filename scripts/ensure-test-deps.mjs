#!/usr/bin/env node
// pretest: the tests drive real peers: SIPp phones (Debian's sip-tester), certificates made with openssl for the
// HTTPS tests, a real PostgreSQL server (Debian's postgresql) for the PostgreSQL store and the cluster tests, and
// nginx as the cluster's load balancer. On a fresh Debian machine (root, as CI runs) install what is missing, so that
// `npm install && npm test` passes as written.
import { execSync, spawnSync } from 'node:child_process';

/** What the tests run (a command on PATH, or a shell glob for binaries off PATH) → the Debian package providing it. */
const NEEDED = {
  sipp: 'sip-tester',
  openssl: 'openssl',
  nginx: 'nginx',
  // Debian keeps the server binaries off PATH, one directory per major version.
  '/usr/lib/postgresql/*/bin/postgres': 'postgresql',
};

const has = (cmd) =>
  spawnSync('sh', ['-c', cmd.startsWith('/') ? `for f in ${cmd}; do [ -x "$f" ] && exit 0; done; exit 1` : `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const missing = Object.entries(NEEDED).filter(([cmd]) => !has(cmd));
if (missing.length === 0) process.exit(0);
const packages = missing.map(([, pkg]) => pkg).join(' ');
if (!has('apt-get')) {
  console.error(`pretest: the tests need ${missing.map(([cmd, pkg]) => `${cmd} (Debian package ${pkg})`).join(', ')}; install and re-run.`);
  process.exit(1);
}
const sudo = process.getuid && process.getuid() !== 0 ? 'sudo ' : '';
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
console.log(`pretest: installing ${packages} with apt-get`);
try {
  execSync(`${sudo}apt-get update -qq`, { stdio: 'inherit', env });
  execSync(`${sudo}apt-get install -y -qq --no-install-recommends ${packages}`, { stdio: 'inherit', env });
} catch (err) {
  console.error(`pretest: could not install ${packages}: ${err.message}`);
  process.exit(1);
}
const still = missing.filter(([cmd]) => !has(cmd));
if (still.length) {
  console.error(`pretest: installed ${packages} but ${still.map(([cmd]) => cmd).join(', ')} is still not on PATH`);
  process.exit(1);
}
