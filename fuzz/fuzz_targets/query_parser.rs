//! Any query string and FT.SEARCH arguments (0xFF bytes, never part of UTF-8, separate
//! them): parsing must return a query or an error under the default limits, never
//! panic or hang; and a parsed query must print to text that parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_query::{parse_query, parse_search, Limits, Params};

fuzz_target!(|data: &[u8]| {
    let mut parts = data
        .split(|byte| *byte == 0xFF)
        .map(|part| String::from_utf8_lossy(part).into_owned());
    let query = parts.next().unwrap_or_default();
    let args: Vec<String> = parts.collect();
    let limits = Limits::default();
    let _ = parse_query(&query, &limits);
    let Ok(parsed) = parse_search(&query, &args, &limits) else {
        return;
    };
    let printed = parsed.to_args();
    match parse_search(&printed[0], &printed[1..], &limits) {
        Ok(again) => assert_eq!(again, parsed, "printed as {printed:?}"),
        Err(error) => panic!("{query:?} {args:?} printed as {printed:?}, which fails: {error}"),
    }
    let _ = parsed.bind(&Params::new(), &limits);
});
