/** This front end's version; the server extension answers its own (GET /eopde/version).
 * tests/test_extension_build.py checks it equals package.json's and the Python distribution's. */
export const VERSION = '0.1.0';
/** The REST API version this front end speaks (eopde.server.handlers.API_VERSION). */
export const API_VERSION = 3;
