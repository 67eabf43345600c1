export * from './sockets.ts';
export * from './values.ts';
export * from './errors.ts';
export * from './define.ts';
export { SDK_VERSION } from './version.ts';
export { initRuntime, tf, type BackendInfo } from './runtime.ts';
export * from './params-schema.ts';
// PNG encoding and image grids, for previews and artifacts.
export { encodePng, gridPng, imageGrid, imagePng, tensorToBatch, type GridOptions, type ImageBatch } from './image.ts';
// Re-exported so packs outside the repo need only the SDK import (`cadflow/sdk`).
export { z } from 'zod';
