//! What each benchmark hands back: its section of `bench/RESULTS.md` and the goals it
//! measured, which the report puts in one table at the top, met or missed as measured.

use std::fmt::Write as _;

/// One goal of the benchmark issue, as this run measured it.
pub struct Goal {
    /// The goal, as the issue states it ("idle RSS ≤ 25 MB").
    pub what: String,
    /// What this run measured.
    pub figure: String,
    pub met: bool,
}

impl Goal {
    pub fn new(what: impl Into<String>, figure: impl Into<String>, met: bool) -> Self {
        Goal {
            what: what.into(),
            figure: figure.into(),
            met,
        }
    }
}

/// One benchmark's part of the report.
pub struct Section {
    pub text: String,
    pub goals: Vec<Goal>,
}

/// The goals table: every goal this run measured, in the order the benchmarks ran.
pub fn goals_table(goals: &[Goal]) -> String {
    let mut s = String::from("## Goals, as measured in this run\n\n");
    if goals.is_empty() {
        s.push_str("(no benchmark with a goal ran)\n\n");
        return s;
    }
    let missed = goals.iter().filter(|g| !g.met).count();
    let _ = writeln!(
        s,
        "{} of {} met{}. Each figure is taken from the section below it; `bench/ANALYSIS.md` (written by hand) has the profiles behind the misses and what remains.\n",
        goals.len() - missed,
        goals.len(),
        if missed == 0 {
            String::new()
        } else {
            format!(", {missed} missed")
        }
    );
    s.push_str("| goal | this run | |\n|---|---|---|\n");
    for g in goals {
        let verdict = if g.met { "met" } else { "**missed**" };
        let _ = writeln!(s, "| {} | {} | {verdict} |", g.what, g.figure);
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_counts_and_marks_misses() {
        let t = goals_table(&[
            Goal::new("idle RSS ≤ 25 MB", "24.2 MB", true),
            Goal::new("first visit ≤ 250 kB gzip", "404.1 kB", false),
        ]);
        assert!(t.contains("1 of 2 met, 1 missed."), "{t}");
        assert!(t.contains("| idle RSS ≤ 25 MB | 24.2 MB | met |"), "{t}");
        assert!(
            t.contains("| first visit ≤ 250 kB gzip | 404.1 kB | **missed** |"),
            "{t}"
        );
        assert!(goals_table(&[]).contains("no benchmark with a goal ran"));
    }
}
