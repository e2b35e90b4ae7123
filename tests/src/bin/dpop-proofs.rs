//! `cargo xtask bench`'s load generator for DPoP, run before the measurement so that making
//! proofs costs the measured API nothing: gets a DPoP-bound machine token from the tenant
//! (client credentials, with a proof), then writes `files` files of `count` fresh proofs each
//! for `GET {uri}` with that token, one per line, the token on the first line.
//!
//!   dpop-proofs <tenant token endpoint> <client id> <client secret> <audience> <uri> <count> <files> <out dir>

use std::io::Write;

use shared::dpop::ProofKey;

fn main() {
    if let Err(why) = run() {
        eprintln!("error: {why}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [
        token_url,
        client_id,
        secret,
        audience,
        uri,
        count,
        files,
        out,
    ] = &args[..]
    else {
        return Err("usage: dpop-proofs <token endpoint> <client id> <client secret> <audience> <uri> <count> <files> <out dir>".into());
    };
    let count: usize = count.parse().map_err(|_| "count is a number")?;
    let files: usize = files.parse().map_err(|_| "files is a number")?;
    let key = ProofKey::generate();
    let now = || integration_tests::now() as i64;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let answer: serde_json::Value = runtime.block_on(async {
        reqwest::Client::new()
            .post(token_url)
            .header("DPoP", key.proof("POST", token_url, None, None, now()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.as_str()),
                ("audience", audience.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("the tenant did not answer: {e}"))?
            .json()
            .await
            .map_err(|e| format!("the tenant's answer is not JSON: {e}"))
    })?;
    let token = answer["access_token"]
        .as_str()
        .filter(|_| answer["token_type"] == "DPoP")
        .ok_or_else(|| format!("no DPoP-bound token from the tenant: {answer}"))?;
    for file in 0..files {
        let path = std::path::Path::new(out).join(format!("proofs-{file}.txt"));
        let mut writer = std::io::BufWriter::new(
            std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        );
        writeln!(writer, "{token}").map_err(|e| e.to_string())?;
        for _ in 0..count {
            writeln!(
                writer,
                "{}",
                key.proof("GET", uri, Some(token), None, now())
            )
            .map_err(|e| e.to_string())?;
        }
        writer.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}
