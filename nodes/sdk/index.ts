export * from './sockets.ts';
export * from './values.ts';
export * from './errors.ts';
export * from './define.ts';
export { initRuntime, tf, type BackendInfo } from './runtime.ts';
export * from './params-schema.ts';
