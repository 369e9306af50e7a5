#!/usr/bin/env node
const { runCli } = await import('../dist/cli/main.js').catch((error) => {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  process.stderr.write('portico: not built yet: run `npm run build` (npm install does it) and try again\n');
  process.exit(1);
});

const exitCode = await runCli(process.argv);
// `serve` keeps running; every other command ends here.
if (exitCode !== 0 || process.argv[2] !== 'serve') process.exitCode = exitCode;
