#!/usr/bin/env node
import { runCli } from '../dist/cli/main.js';

const exitCode = await runCli(process.argv);
// `serve` keeps running; every other command ends here.
if (exitCode !== 0 || process.argv[2] !== 'serve') process.exitCode = exitCode;
