//! `lark-oapi-mock [--port N]`: runs the mock Feishu Open Platform until Ctrl-C.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform};

const USAGE: &str = "usage: lark-oapi-mock [--port N]   (default 0: a random free port)";

/// `Ok(None)` means "help was asked for".
fn parse_port(mut args: impl Iterator<Item = String>) -> Result<Option<u16>, String> {
    let mut port = 0u16;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" | "-p" => args.next().ok_or("--port needs a value")?,
            other => match other.strip_prefix("--port=") {
                Some(v) => v.to_owned(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        };
        port = value
            .parse()
            .map_err(|_| format!("invalid port {value:?}"))?;
    }
    Ok(Some(port))
}

#[tokio::main]
async fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(Some(port)) => port,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("lark-oapi-mock: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mock = match MockPlatform::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("lark-oapi-mock: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "lark-oapi-mock listening on {} (app_id={APP_ID}, app_secret={APP_SECRET})",
        mock.base_url()
    );
    let _ = std::io::stdout().flush();
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("lark-oapi-mock: cannot wait for Ctrl-C: {e}");
    }
    mock.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::parse_port;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port(args(&[])), Ok(Some(0)));
        assert_eq!(parse_port(args(&["--port", "8080"])), Ok(Some(8080)));
        assert_eq!(parse_port(args(&["--port=9"])), Ok(Some(9)));
        assert_eq!(parse_port(args(&["--help"])), Ok(None));
        assert!(parse_port(args(&["--port"])).is_err());
        assert!(parse_port(args(&["--port", "x"])).is_err());
        assert!(parse_port(args(&["extra"])).is_err());
    }
}
