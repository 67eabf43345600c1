// The node SDK's own version (semver). A pack's manifest names the range it was written against
// (`"cadflow": { "sdk": "^1.0.0" }`); the loader refuses a pack whose range this version does not satisfy.
// Bump the major for a change that breaks packs (a removed export, a changed NodeContext member).
export const SDK_VERSION = '1.0.0';
