//! Workspace tasks. Run `cargo xtask --help`.

mod import;
mod public_api;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

/// Workspace tasks of lark-oapi: import the API dataset, generate the bindings, check for drift.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Imports the API dataset (e.g. ../shared/lark-api) into api-specs/, the generator's input.
    ///
    /// Deterministic: running it twice on the same dataset changes nothing.
    ImportSpecs {
        /// The dataset directory (with index.json, apis/, events/).
        dir: PathBuf,
    },
    /// Generates the typed bindings, docs and feature table from api-specs/.
    ///
    /// Writes sdk-generated/src/generated/, sdk-generated/Cargo.toml, the generated test
    /// table and docs/; removes generated files no spec produces any more.
    Codegen {
        /// Writes nothing; fails if any generated file differs from what is committed,
        /// is missing, or is an orphan no spec produces.
        #[arg(long)]
        check: bool,
    },
    /// Lists the public API of the runtime and the facade into api/ (rustdoc JSON from the
    /// nightly toolchain): one line per item, sorted, for review in diffs.
    PublicApi {
        /// Writes nothing; fails, showing the difference, if the API differs from api/.
        #[arg(long)]
        check: bool,
    },
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Command::ImportSpecs { dir } => {
            import::import(&dir, &root.join("api-specs")).map(|(m, e)| {
                println!("imported {m} methods and {e} events into api-specs/");
            })
        }
        Command::Codegen { check } => codegen(&root, check),
        Command::PublicApi { check } => public_api::run(&root, check),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn codegen(root: &Path, check: bool) -> Result<(), String> {
    let started = Instant::now();
    let output = lark_oapi_codegen::generate(&root.join("api-specs")).map_err(|e| e.to_string())?;
    let report = output.sync(root, check).map_err(|e| e.to_string())?;
    if check {
        if report.is_clean() {
            println!(
                "generated code is up to date ({} files checked in {:.2?})",
                report.unchanged,
                started.elapsed()
            );
            Ok(())
        } else {
            Err(format!(
                "generated code has drifted; run `cargo xtask codegen` and commit the result:\n{report}"
            ))
        }
    } else {
        println!(
            "generated {} files ({} written, {} removed, {} unchanged) in {:.2?}",
            report.total(),
            report.changed.len(),
            report.orphans.len(),
            report.unchanged,
            started.elapsed()
        );
        Ok(())
    }
}
