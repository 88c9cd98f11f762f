//! Models with identical fields merged into one, the others kept as aliases of it.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// Keeps one model of each set with identical fields (wire names, Rust names, types,
/// optionality) and turns the others into aliases of it. Repeats until nothing changes, since
/// merging two models can make the models that use them identical too. The model kept is a
/// named data type rather than a `...Body` where there is one, then the shortest name; it
/// takes every direction (decode, encode) any of its aliases needed, and the first field
/// description any of them had.
pub(super) fn merge_identical(
    mut models: Vec<Model>,
    keep_apart: fn(&Model) -> bool,
) -> (Vec<Model>, Vec<Alias>) {
    let mut aliases: Vec<Alias> = Vec::new();
    loop {
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, m) in models.iter().enumerate() {
            if keep_apart(m) || m.fields.is_empty() {
                continue;
            }
            let key = format!(
                "{:?}",
                m.fields
                    .iter()
                    .map(|f| (&f.name, &f.ident, &f.ty, f.optional))
                    .collect::<Vec<_>>()
            );
            groups.entry(key).or_default().push(i);
        }
        let rank = |m: &Model| (m.name.ends_with("Body"), m.name.len(), m.name.clone());
        let mut renames: BTreeMap<String, String> = BTreeMap::new();
        let mut merged: Vec<(usize, Vec<usize>)> = Vec::new();
        for members in groups.into_values().filter(|g| g.len() > 1) {
            let keep = *members
                .iter()
                .min_by_key(|&&i| rank(&models[i]))
                .expect("a group has members");
            let others: Vec<usize> = members.into_iter().filter(|&i| i != keep).collect();
            for &o in &others {
                renames.insert(models[o].name.clone(), models[keep].name.clone());
            }
            merged.push((keep, others));
        }
        if renames.is_empty() {
            break;
        }
        let mut gone = BTreeSet::new();
        for (keep, others) in merged {
            for o in others {
                let (decode, encode) = (models[o].decode, models[o].encode);
                let docs: Vec<Option<String>> =
                    models[o].fields.iter().map(|f| f.doc.clone()).collect();
                let kept = &mut models[keep];
                kept.decode |= decode;
                kept.encode |= encode;
                for (field, doc) in kept.fields.iter_mut().zip(docs) {
                    if field.doc.is_none() {
                        field.doc = doc;
                    }
                }
                let alias = &models[o];
                aliases.push(Alias {
                    wire_name: alias.wire_name.clone(),
                    name: alias.name.clone(),
                    doc: alias.doc.clone(),
                    target: models[keep].name.clone(),
                });
                gone.insert(o);
            }
        }
        let mut i = 0;
        models.retain(|_| {
            i += 1;
            !gone.contains(&(i - 1))
        });
        for m in &mut models {
            for f in &mut m.fields {
                rename_models(&mut f.ty, &renames);
            }
        }
        for a in &mut aliases {
            if let Some(to) = renames.get(&a.target) {
                a.target = to.clone();
            }
        }
    }
    aliases.sort_by(|a, b| a.name.cmp(&b.name));
    (models, aliases)
}

/// Points references to merged models at the model kept.
pub(super) fn rename_models(ty: &mut TypeRef, renames: &BTreeMap<String, String>) {
    match ty {
        TypeRef::Model(name) => {
            if let Some(to) = renames.get(name) {
                *name = to.clone();
            }
        }
        TypeRef::List(inner) | TypeRef::Map(inner) => rename_models(inner, renames),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, ty: TypeRef, doc: Option<&str>) -> FieldIr {
        FieldIr {
            name: name.into(),
            ident: name.into(),
            ty,
            optional: true,
            required: false,
            doc: doc.map(str::to_owned),
        }
    }

    fn model(name: &str, fields: Vec<FieldIr>, decode: bool, encode: bool) -> Model {
        Model {
            wire_name: name.into(),
            name: name.into(),
            doc: None,
            fields,
            decode,
            encode,
            multipart: false,
            card_template: false,
        }
    }

    #[test]
    fn identical_models_merge_into_the_named_one_transitively() {
        let user = |n: &str, doc| model(n, vec![field("id", TypeRef::String, doc)], false, true);
        let models = vec![
            user("GetUserResponseBody", None),
            user("User", Some("The user id")),
            model(
                "ListRespBody",
                vec![field(
                    "items",
                    TypeRef::List(Box::new(TypeRef::Model("GetUserResponseBody".into()))),
                    None,
                )],
                true,
                false,
            ),
            model(
                "Page",
                vec![field(
                    "items",
                    TypeRef::List(Box::new(TypeRef::Model("User".into()))),
                    None,
                )],
                true,
                false,
            ),
            // Same fields, but a multipart body: never merged.
            Model {
                multipart: true,
                ..user("UploadRequestBody", None)
            },
        ];
        let (models, aliases) = merge_identical(models, |m| m.multipart);
        let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["User", "Page", "UploadRequestBody"]);
        let aliases: Vec<(&str, &str)> = aliases
            .iter()
            .map(|a| (a.name.as_str(), a.target.as_str()))
            .collect();
        // `ListRespBody` became identical to `Page` only once the users were merged.
        assert_eq!(
            aliases,
            [("GetUserResponseBody", "User"), ("ListRespBody", "Page")]
        );
        let user = &models[0];
        assert!(user.encode && !user.decode);
        assert_eq!(user.fields[0].doc.as_deref(), Some("The user id"));
        assert!(models[1].decode);
    }
}
