// Entry of the `cadflow` command (bin/cadflow.js imports this): runs the command and sets the exit code.
// main() answers every error it sees with one line; these hooks catch the rest (a server socket, a timer) the same
// way, ahead of tfjs-wasm's own hook, which would print its whole minified source and exit 7.
const fatal = (err: unknown) => {
  console.error(`cadflow: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

const { main } = await import('./commands.ts');
process.exitCode = await main(process.argv.slice(2));
