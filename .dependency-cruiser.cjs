/**
 * The layering of src/, checked on every `npm test` (dependency-cruiser). Bottom to top:
 *   util, trace types  <  bindings (src/bindings: one module per native addon)  <  formats  <  graph, model (the engine)
 *   <  compare (two traces in, one result out: no engine, no llama.cpp bridge)
 *   <  importers (other engines' dumps as traces), reference (llama.cpp), pipeline (loads models, runs engines, experiments), parity, convert
 *   <  cli
 * docs/architecture.md walks one prompt through these layers.
 */
const layer = (name, forbidden, comment) => ({
  name,
  comment,
  severity: "error",
  from: { path: `^src/${name.split(":")[0]}/` },
  to: { path: `^src/(${forbidden.join("|")})/` },
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no import circles in src/, type-only imports included: shared helpers and types live below the files that use them",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    layer("compare", ["model", "graph", "reference", "pipeline", "parity", "convert", "cli", "tokenizer"], "the comparator knows traces, not engines (Polygraphy keeps comparator/ free of backend/)"),
    layer("trace", ["model", "graph", "compare", "reference", "pipeline", "parity", "convert", "cli", "formats"], "the trace format is a leaf the engines and the comparator share"),
    layer("formats", ["model", "graph", "compare", "reference", "pipeline", "parity", "cli", "trace"], "file formats know bytes and roles, not engines or comparisons"),
    layer("bindings", ["model", "graph", "compare", "reference", "pipeline", "parity", "convert", "cli", "formats", "tokenizer"], "the bindings type the addons and nothing above them"),
    layer("model", ["compare", "reference", "pipeline", "parity", "convert", "cli"], "the engine computes; it does not compare or orchestrate"),
    layer("graph", ["compare", "reference", "pipeline", "parity", "convert", "cli"], "graph blocks sit under the forward pass"),
    layer("util", ["model", "graph", "compare", "reference", "pipeline", "parity", "convert", "cli", "formats", "trace", "native", "bindings", "tokenizer"], "util is the bottom"),
    layer("reference", ["compare", "pipeline", "parity", "cli"], "the llama.cpp bridge produces traces; it does not compare them"),
    layer("pipeline", ["cli"], "the orchestration layer is used by the CLI, never the reverse"),
    layer("importers", ["model", "graph", "compare", "reference", "pipeline", "parity", "convert", "cli"], "importers turn other engines' dumps into traces: they know the trace format, not engines or comparisons"),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    moduleSystems: ["es6", "cjs"],
  },
};
