#!/usr/bin/env python3
# Hand-made mutants of the planner, the rewrite driver and the minimizers: each is applied to
# a checkout, the tests that should catch it run, and the verdict is printed (not run by CI:
# about 40 minutes on 2 cores). Usage: python3 .ci/mutants.py REPO TARGET_DIR [PREFIX ...]
# (a checkout to mutate, a cargo target folder, optionally the mutants to run: P2 R3 ...).
# Results are in docs/PERFORMANCE.md, "Mutation check".
import subprocess, sys, os, json
REPO = sys.argv[1]
TARGET = sys.argv[2]
M = [
 ("P1 in-place reuse of an input that does not die", "src/compile/plan.rs",
  "let dies = last[a] == i;", "let dies = true;", ["--test", "compile", "--test", "rewrite"]),
 ("P2 outputs not kept live to the end", "src/compile/plan.rs",
  "    {\n        last[o] = usize::MAX;",
  "    {\n        last[o] = last[o];",
  ["--test", "compile"]),
 ("P3 in-place reuse of an input of another size", "src/compile/plan.rs",
  "let same = numel(&shapes[a]) == numel(&shapes[i]);", "let same = true;", ["--test", "compile", "--test", "rewrite"]),
 ("P4 column sums fused over a non-leading axis", "src/compile/program.rs",
  "&& to[..to.len() - 1].iter().all(|&d| d == Dim::Fixed(1));", ";", ["--test", "compile", "--test", "rewrite", "--test", "prop_broadcast"]),
 ("P5 freed blocks never merged", "src/compile/plan.rs",
  "if pos > 0 && self.free[pos - 1].0 + self.free[pos - 1].1 == self.free[pos].0 {", "if false {", ["--lib", "plan"]),
 ("P6 a gradient's copy target also written in place", "src/compile/lower.rs",
  "if steps[p].kernel.is_leaf() || shared || direct_grad[p].is_some() {", "if steps[p].kernel.is_leaf() {", ["--test", "compile", "--test", "grad_helpers"]),
 ("R1 inexact rules run at Level::Exact", "src/rewrite/mod.rs",
  ".filter(|rule| level == Level::All || rule.exact)", ".filter(|_rule| true)", ["--test", "rewrite"]),
 ("R2 one rewrite round only", "src/rewrite/mod.rs",
  "pub const MAX_ROUNDS: usize = 12;", "pub const MAX_ROUNDS: usize = 1;", ["--test", "rewrite"]),
 ("R3 hash-consing ignores constants' values", "src/ops/mod.rs",
  "x.shape() == y.shape()\n                    && x.data()", "x.shape() == y.shape()\n                    || x.data()", ["--test", "rewrite", "--test", "compile", "--lib"]),
 ("O1 PR+ without its clamp at 0", "src/optim/cg.rs",
  "Beta::PolakRibierePlus => (gy / k.gg_old).max(0.0),", "Beta::PolakRibierePlus => gy / k.gg_old,", ["--test", "optim"]),
 ("O2 L-BFGS without the initial scaling gamma", "src/optim/lbfgs.rs",
  "let gm = T::from_f64(gamma);", "let gm = T::from_f64(gamma * 0.0 + 1.0);", ["--test", "optim"]),
 ("O3 Nesterov's gradient taken at x", "src/optim/momentum.rs",
  "self.lookahead(x, epoch, &mut xa);\n                    fg(k, &xa, &mut g)", "self.lookahead(x, epoch, &mut xa);\n                    fg(k, x, &mut g)", ["--test", "optim"]),
 ("O4 More-Thuente curvature condition dropped", "src/optim/linesearch.rs",
  "if f <= ftest && g.abs() <= self.c2 * -slope0 {", "if f <= ftest {", ["--test", "optim"]),
]
only = sys.argv[3:] 
results = []
for name, path, old, new, tests in M:
    if only and not any(name.startswith(o) for o in only):
        continue
    p = os.path.join(REPO, path)
    src = open(p).read()
    if old not in src:
        results.append((name, "NOT APPLIED (text not found)")); print(name, "NOT APPLIED", flush=True); continue
    open(p, 'w').write(src.replace(old, new, 1))
    try:
        r = subprocess.run(["cargo", "test", *tests], cwd=REPO, env={**os.environ, "CARGO_TARGET_DIR": TARGET},
                           capture_output=True, text=True, timeout=1500)
        out = r.stdout + r.stderr
        if r.returncode == 0:
            verdict = "SURVIVED"
        elif "error[" in out and "could not compile" in out:
            verdict = "did not compile"
        else:
            failed = [l.split()[1] for l in out.splitlines() if l.startswith("test ") and l.endswith("FAILED")]
            verdict = "killed by " + ", ".join(failed[:4])
    finally:
        open(p, 'w').write(src)
    results.append((name, verdict)); print(name, "->", verdict, flush=True)
print(json.dumps(results, indent=1))
