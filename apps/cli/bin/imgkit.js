#!/usr/bin/env node
// Node runs the TypeScript sources directly (type stripping); no build step.
import '../src/main.ts';
