export * from './errors.js';
export * from './reader.js';
export * from './writer.js';
export * from './codec-runtime.js';
export * from './generated/index.js';
export * from './headers.js';
