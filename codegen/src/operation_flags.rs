//! Per-operation flags the descriptors do not carry (`codegen/operation-flags.json`):
//! which operations go without a token, answer with a flat envelope, send the help desk
//! credential, or can answer with server-sent events. Data, checked against the specs: a listed path that is no operation fails
//! the generator, so the table cannot silently go stale.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Error;
use crate::ir::Ir;

fn list(data: &Value, key: &str) -> Result<BTreeSet<String>, Error> {
    data.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Naming(format!("operation-flags.json: `{key}` (a list) is missing")))?
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| {
                Error::Naming(format!("operation-flags.json: `{key}` holds a non-string"))
            })
        })
        .collect()
}

/// Sets each method's flags from the table; fails on an entry that matches nothing.
pub(crate) fn apply(ir: &mut Ir, table: &str) -> Result<(), Error> {
    let data: Value = serde_json::from_str(table)
        .map_err(|e| Error::Naming(format!("operation-flags.json does not parse: {e}")))?;
    let no_auth = list(&data, "no_auth")?;
    let flat = list(&data, "flat_envelope")?;
    let helpdesk = list(&data, "helpdesk_auth_projects")?;
    // Optional: a table without it streams nothing.
    let event_stream = match data.get("event_stream") {
        Some(_) => list(&data, "event_stream")?,
        None => BTreeSet::new(),
    };
    let mut seen = BTreeSet::new();
    for p in &mut ir.projects {
        let helpdesk_project = helpdesk.contains(&p.name);
        if helpdesk_project {
            seen.insert(p.name.clone());
        }
        for v in &mut p.versions {
            for r in &mut v.resources {
                for m in &mut r.methods {
                    m.no_auth = no_auth.contains(&m.path);
                    m.flat_envelope = flat.contains(&m.path);
                    m.helpdesk_auth = helpdesk_project;
                    let operation = format!("{} {}", m.http_method, m.path);
                    m.event_stream = event_stream.contains(&operation);
                    seen.insert(m.path.clone());
                    seen.insert(operation);
                }
            }
        }
    }
    let unknown: Vec<&String> = no_auth
        .iter()
        .chain(&flat)
        .chain(&helpdesk)
        .chain(&event_stream)
        .filter(|k| !seen.contains(*k))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::Naming(format!(
            "operation-flags.json names what the specs do not have (an operation path or a project): {unknown:?}"
        )))
    }
}
