// @dynauth/client: the browser client and the error type. Server-side helpers are in
// '@dynauth/client/server'.
export { createClient } from './browser.js';
export { DynauthError } from './errors.js';
