// Entry of the `cadflow` command (bin/cadflow.js imports this): runs the command and sets the exit code.
import { main } from './commands.ts';

process.exitCode = await main(process.argv.slice(2));
