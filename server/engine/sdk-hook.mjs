// Module resolve hook (registered by the pack loader): `cadflow/sdk…` imported by an installed pack resolves
// through this cadflow's own package.json exports, so every pack shares the host's one SDK instance even
// though no node_modules/cadflow exists beside it.
let hostPackageJson;

export function initialize(data) {
  hostPackageJson = data.hostPackageJson;
}

export function resolve(specifier, context, next) {
  if (specifier === 'cadflow' || specifier.startsWith('cadflow/')) {
    return next(specifier, { ...context, parentURL: hostPackageJson });
  }
  return next(specifier, context);
}
