export * from './codec-runtime.js';
export * from './errors.js';
export * from './generated/index.js';
export * from './headers.js';
export * from './reader.js';
export * from './writer.js';
export * from './error-codes.js';
export * from './frame.js';
