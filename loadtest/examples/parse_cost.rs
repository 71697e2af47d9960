//! Benchmark: what parsing a lead costs, round after round, on the load generator's own
//! mix of countries and phone formats (one thread, no I/O). A parser whose cost keeps
//! falling round after round is still warming up (compiling patterns, building lazy DFA
//! states); a flat line is its steady state.
//!
//!     cargo run --release -p leadpipe-loadtest --example parse_cost -- [rounds] [leads per round]
//!
//! Prints µs per parsed lead for each round, then the same as one JSON object.

use std::time::Instant;

use leadpipe_domain::{parse_submission, ConsentPolicy};
use leadpipe_loadtest::generator::{Generator, LeadMix, RunLeads};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .get(1)
        .map_or(Ok(10), |s| s.parse())
        .map_err(|e| format!("{e}"))?;
    let per_round: usize = args
        .get(2)
        .map_or(Ok(2000), |s| s.parse())
        .map_err(|e| format!("{e}"))?;
    let mix = LeadMix {
        invalid_share: 0.0,
        resubmit_share: 0.0,
        keyless_share: 0.0,
    };
    let mut generator = Generator::new(7, RunLeads::new("parse-cost")?, mix);
    let mut figures = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let bodies: Vec<Vec<u8>> = (0..per_round)
            .map(|_| generator.next_request().body)
            .collect();
        let started = Instant::now();
        let mut valid = 0;
        for body in &bodies {
            valid += usize::from(parse_submission(body, ConsentPolicy::default()).is_ok());
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / per_round as f64;
        println!("round {round}: {us:.1} µs per lead ({valid} of {per_round} valid)");
        figures.push((us * 10.0).round() / 10.0);
    }
    println!("{{\"us_per_lead\": {figures:?}}}");
    Ok(())
}
