#!/usr/bin/env node
/** Entry point of the `sgflow` binary (bin/sgflow); the commands are in program.ts. */
import { main } from './program.js';

await main(process.argv);
