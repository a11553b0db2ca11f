/**
 * Which file names are G-code: one rule for the file store (upload, listing) and for the browser, which
 * tells the user before uploading (web/src/lib/upload.ts). No Node imports: the UI bundle uses it too.
 */
export const GCODE_EXTENSIONS = /\.(gcode|gco|g)$/i;
