//! The page's data and determinism on the hand-made graph of `export::tests`.

use super::*;
use crate::export::{Config, Level, detail, view};

fn page(level: Level) -> String {
    let graph = crate::export::tests::graph();
    let config = Config::new(level);
    let top = view(&graph, &config).unwrap();
    let finer = detail(&graph, &config, &top).unwrap();
    render(&top, finer.as_ref())
}

fn data(page: &str) -> serde_json::Value {
    let start = page.find("id=\"codegraph-data\">").unwrap() + "id=\"codegraph-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

#[test]
fn module_level_page_carries_items_to_expand() {
    let page = page(Level::Module);
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    // Nothing is fetched: no element names another file or address.
    assert!(!page.contains(" src=") && !page.contains(" href=") && !page.contains("url(http"), "nothing fetched");
    let data = data(&page);
    let labels: Vec<&str> = data["nodes"].as_array().unwrap().iter().map(|n| n["label"].as_str().unwrap()).collect();
    // Nodes outside every cluster (the folded extern) come first.
    assert_eq!(labels, ["std", "k", "k::m"]);
    // The items, each with the module node that holds it.
    let items: Vec<(String, u64)> = data["detail"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n[2].as_str().unwrap().to_owned(), n[3].as_u64().unwrap()))
        .collect();
    assert!(items.contains(&("k::f".to_owned(), 1)) && items.contains(&("k::m::g".to_owned(), 2)), "{items:?}");
    // A laid-out node has a size and no two nodes overlap.
    let rects: Vec<(f64, f64, f64, f64)> = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (n["x"].as_f64().unwrap(), n["y"].as_f64().unwrap(), n["w"].as_f64().unwrap(), n["h"].as_f64().unwrap())
        })
        .collect();
    for (i, a) in rects.iter().enumerate() {
        assert!(a.2 > 0.0 && a.3 > 0.0);
        for b in &rects[i + 1..] {
            assert!(a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1, "{rects:?}");
        }
    }
}

#[test]
fn html_is_deterministic_and_escapes_the_data() {
    for level in [Level::Crate, Level::Module, Level::Item] {
        assert_eq!(page(level), page(level));
    }
    // The extern's name holds `"<&>"`: inside the data block `<` is written `\u003c`.
    let page = page(Level::Item);
    let start = page.find("id=\"codegraph-data\">").unwrap();
    let block = &page[start..start + page[start..].find("</script>").unwrap()];
    assert!(!block[1..].contains('<'), "{block}");
    assert!(data(&page)["nodes"].as_array().unwrap().iter().any(|n| n["props"]["name"] == "Debug \"<&>\""));
}
