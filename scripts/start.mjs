// `npm start`: the local sandbox. Not built yet (tracked in its own issue); say so plainly.
console.error(
  'sg-warden: the local sandbox (`npm start`) is not built yet. Run `npm test`, or try the CLI: npx sg-warden evaluate <file>',
);
process.exit(2);
