// The end-to-end harness in one import.
export * from './postern.mjs';
export * from './upstream.mjs';
export * from './http.mjs';
export * from './tls.mjs';
export { toYaml } from './yaml.mjs';
