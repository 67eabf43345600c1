// pretest: the browser tests drive Debian's Chromium. Install it when missing and we are root;
// otherwise print the exact command. Never downloads a browser of its own.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const CHROMIUM = '/usr/bin/chromium';
if (existsSync(CHROMIUM)) process.exit(0);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot) {
  console.error(`cadflow: the browser tests need Debian's Chromium. Run:\n  sudo apt-get update && sudo apt-get install -y chromium`);
  process.exit(1);
}
console.log('cadflow: installing Debian chromium for the browser tests…');
execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium', { stdio: 'inherit' });
