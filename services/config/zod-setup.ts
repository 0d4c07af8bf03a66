// Set before any config schema is built: every module that builds one imports this first.
import * as z from 'zod';

// These schemas parse one file once per cold start: zod's JIT (a parser compiled with `new Function`
// per object schema, on its first parse) costs more than it saves then. Read when a schema is built,
// so it is set before any is.
z.config({ jitless: true });
