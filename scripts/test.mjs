// `npm test` after the build: the lint (ESLint + Prettier, CPU-bound) and the vitest suites (mostly
// waiting on child processes, Redis and timers) side by side instead of one after the other,
// which took ~60 s longer on the 2-core CI machine. The lint's output is printed when it ends,
// not interleaved with the suites'. Exits non-zero when either fails; arguments go to vitest.
import { spawn } from 'node:child_process';

function run(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, options);
    let output = '';
    if (child.stdout) child.stdout.on('data', (d) => (output += d));
    if (child.stderr) child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => resolve({ code: 1, output: `${output}${err.message}\n` }));
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

const lint = run('npm', ['run', '--silent', 'lint'], { stdio: ['ignore', 'pipe', 'pipe'] }).then((result) => {
  process.stderr.write(result.code === 0 ? 'lint: clean (eslint, prettier --check)\n' : `lint FAILED:\n${result.output}`);
  return result.code;
});
const suites = run('npx', ['vitest', 'run', ...process.argv.slice(2)], { stdio: 'inherit' }).then((result) => result.code);
const [lintCode, suitesCode] = await Promise.all([lint, suites]);
process.exit(lintCode !== 0 ? lintCode : suitesCode);
