#!/usr/bin/env node
// pretest: the SIP tests drive real phones with SIPp (Debian's sip-tester). On a fresh Debian machine
// (root, as CI runs) install it when `sipp` is missing, so `npm install && npm test` passes as written.
import { execSync, spawnSync } from 'node:child_process';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (has('sipp')) process.exit(0);
if (!has('apt-get')) {
  console.error('pretest: sipp (Debian package sip-tester) is required by the SIP tests; install it and re-run.');
  process.exit(1);
}
const sudo = process.getuid && process.getuid() !== 0 ? 'sudo ' : '';
console.log('pretest: installing sip-tester (sipp) with apt-get');
try {
  execSync(`${sudo}apt-get update -qq`, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  execSync(`${sudo}apt-get install -y -qq --no-install-recommends sip-tester`, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
} catch (err) {
  console.error(`pretest: could not install sip-tester: ${err.message}`);
  process.exit(1);
}
if (!has('sipp')) {
  console.error('pretest: sip-tester installed but sipp is still not on PATH');
  process.exit(1);
}
