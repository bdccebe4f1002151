//! Profiles in a TOML config file: `coffer --profile web backup` with
//! nothing else on the line; the command line beats the profile, the
//! profile beats the environment; mistakes name file, line and column;
//! `config show` says where each setting came from.

use crate::support::{Coffer, arg, write};
use std::path::Path;

/// The example of docs/CONFIG.md, with paths inside the test directory.
fn example(c: &Coffer) -> std::path::PathBuf {
    let root = c.path("srv");
    write(&root.join("etc/hosts"), "127.0.0.1 localhost\n");
    write(&root.join("www/index.html"), "<html></html>\n");
    write(&root.join("www/upload.tmp"), "half written\n");
    write(&root.join("www/cache/page"), "cached\n");
    std::fs::write(c.path("password"), format!("{}\n", c.password)).unwrap();
    let config = c.path("coffer.toml");
    let r = root.display();
    std::fs::write(
        &config,
        format!(
            r#"[default]
password-file = "{pw}"

[profile.web]
repo = "{repo}"
paths = ["{r}/etc", "{r}/www"]
exclude = ["*.tmp", "{r}/www/cache"]
tag = ["nightly"]
keep-daily = 7
keep-weekly = 4
"#,
            pw = c.path("password").display(),
            repo = c.repo.display(),
        ),
    )
    .unwrap();
    config
}

fn profile_coffer() -> Coffer {
    let mut c = Coffer::new();
    c.pass_repo = false;
    c
}

#[test]
fn a_profile_runs_a_backup_with_nothing_else_on_the_line() {
    let c = profile_coffer();
    let config = example(&c);
    let cfg = arg(&config);
    // No password in the environment: the profile's password file opens it.
    let run = |args: &[&str]| {
        let mut all = vec!["--config", cfg, "--profile", "web"];
        all.extend_from_slice(args);
        let mut cmd = c.command(&all);
        cmd.env_remove("COFFER_PASSWORD");
        crate::support::Out::from_output(all.join(" "), cmd.output().unwrap())
    };
    run(&["init"]).ok();
    let out = run(&["backup", "--json"]);
    out.ok();
    let id = out.json()["snapshot_id"].as_str().unwrap().to_string();
    let snaps = run(&["snapshots", "--json"]);
    snaps.ok();
    let snap = &snaps.json()[0];
    assert_eq!(snap["id"], id.as_str());
    assert_eq!(snap["tags"], serde_json::json!(["nightly"]));
    assert_eq!(snap["paths"].as_array().unwrap().len(), 2);
    let ls = run(&["ls", &id]);
    ls.ok();
    assert!(
        ls.stdout.contains("index.html") && ls.stdout.contains("hosts"),
        "{}",
        ls.show()
    );
    assert!(
        !ls.stdout.contains("upload.tmp"),
        "excluded by pattern: {}",
        ls.show()
    );
    assert!(
        !ls.stdout.contains("page"),
        "excluded by path: {}",
        ls.show()
    );
    // forget takes the retention policy from the profile.
    let forget = run(&["forget", "--prune"]);
    forget.ok();
    assert!(
        forget.stdout.contains("daily snapshot"),
        "{}",
        forget.show()
    );
}

#[test]
fn the_command_line_beats_the_profile_and_the_profile_beats_the_environment() {
    let c = profile_coffer();
    let config = example(&c);
    let cfg = arg(&config);
    let other = c.path("other-repo");
    // The environment names another repository: the profile's wins.
    let out = c.run_env(
        &["--config", cfg, "--profile", "web", "init"],
        &[("COFFER_REPOSITORY", arg(&other))],
    );
    out.ok();
    assert!(c.repo.join("config").exists(), "{}", out.show());
    assert!(!other.exists());
    // --repo on the command line beats the profile.
    c.run(&[
        "--config",
        cfg,
        "--profile",
        "web",
        "--repo",
        arg(&other),
        "init",
    ])
    .ok();
    assert!(other.join("config").exists());
    // A path on the command line replaces the profile's paths.
    let only = c.path("srv/etc");
    let out = c.run(&[
        "--config",
        cfg,
        "--profile",
        "web",
        "backup",
        "--json",
        arg(&only),
    ]);
    out.ok();
    let snaps = c.run(&["--config", cfg, "--profile", "web", "snapshots", "--json"]);
    let paths = snaps.json()[0]["paths"].clone();
    assert_eq!(paths, serde_json::json!([only.display().to_string()]));
    // A flag given beats a list in the profile (tag). `tag` is also the
    // filter of `snapshots`: the profile lists its own (nightly) snapshots,
    // and `--tag manual` on the command line lists the other one.
    let out = c.run(&[
        "--config",
        cfg,
        "--profile",
        "web",
        "backup",
        "--tag",
        "manual",
    ]);
    out.ok();
    let snaps = c.run(&["--config", cfg, "--profile", "web", "snapshots", "--json"]);
    assert_eq!(
        snaps.json().as_array().unwrap().len(),
        1,
        "{}",
        snaps.show()
    );
    let snaps = c.run(&[
        "--config",
        cfg,
        "--profile",
        "web",
        "snapshots",
        "--json",
        "--tag",
        "manual",
    ]);
    assert_eq!(snaps.json()[0]["tags"], serde_json::json!(["manual"]));
}

#[test]
fn mistakes_in_the_file_name_its_line_and_column() {
    let c = profile_coffer();
    let config = example(&c);
    let cfg = arg(&config);
    let text = std::fs::read_to_string(&config).unwrap();
    let cases = [
        (
            "keep-dialy = 3\n",
            "unknown key `keep-dialy` (did you mean `keep-daily`?)",
            11,
        ),
        (
            "one-file-system = \"yes\"\n",
            "one-file-system: expects true or false",
            11,
        ),
    ];
    for (extra, want, line) in cases {
        std::fs::write(&config, format!("{text}{extra}")).unwrap();
        let out = c.run(&["--config", cfg, "--profile", "web", "snapshots"]);
        assert_eq!(out.code, 1, "{}", out.show());
        let err = out.stderr.trim();
        assert_eq!(err.lines().count(), 1, "{}", out.show());
        assert!(err.contains(want), "{extra}: {}", out.show());
        assert!(
            err.contains(&format!("coffer.toml:{line}:1 [profile.web]")),
            "{extra}: {}",
            out.show()
        );
    }
    // Keys already in the profile, with a bad value: the line of the key.
    for (from, to, want, line) in [
        (
            "keep-daily = 7",
            "keep-daily = \"many\"",
            "keep-daily: invalid value 'many'",
            9,
        ),
        (
            "repo = \"",
            "repo = [\"/a\", \"/b\"]\n# \"",
            "repo: expects one value, not a list",
            5,
        ),
    ] {
        std::fs::write(&config, text.replace(from, to)).unwrap();
        let out = c.run(&["--config", cfg, "--profile", "web", "snapshots"]);
        assert_eq!(out.code, 1, "{}", out.show());
        assert!(out.stderr.contains(want), "{to}: {}", out.show());
        assert!(
            out.stderr
                .contains(&format!("coffer.toml:{line}:1 [profile.web]")),
            "{to}: {}",
            out.show()
        );
    }
    std::fs::write(&config, &text).unwrap();
    let out = c.run(&["--config", cfg, "--profile", "nope", "snapshots"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no profile `nope` (profiles: web)"),
        "{}",
        out.show()
    );
    let out = c.run(&["--config", arg(&c.path("missing.toml")), "snapshots"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("config file not found"),
        "{}",
        out.show()
    );
    std::fs::write(
        &config,
        "[profile.web]\nrepo = \"/x\"\n[profile.web.hooks]\nbefore = 1\n",
    )
    .unwrap();
    let out = c.run(&["--config", cfg, "--profile", "web", "snapshots"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("coffer.toml:3:"), "{}", out.show());
}

#[test]
fn config_show_says_where_each_setting_comes_from_and_hides_secrets() {
    let c = profile_coffer();
    let config = example(&c);
    let cfg = arg(&config);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "[profile.web]\n",
            "[profile.base]\nconnections = 2\n\n[profile.web]\ninherit = \"base\"\npassword-command = \"echo hunter2\"\n",
        )
        .replace("password-file", "# password-file"),
    )
    .unwrap();
    let out = c.run_env(
        &[
            "--config",
            cfg,
            "--profile",
            "web",
            "--utc",
            "config",
            "show",
            "--json",
        ],
        &[("COFFER_S3_TIMEOUT", "30")],
    );
    out.ok();
    let v = out.json();
    assert_eq!(v["profile"], "web");
    assert_eq!(
        v["sections"],
        serde_json::json!(["default", "profile.base", "profile.web"])
    );
    let find = |key: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .chain(v["for_other_commands"].as_array().unwrap())
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("{key} not shown: {v}"))
            .clone()
    };
    assert!(
        find("repo")["source"]
            .as_str()
            .unwrap()
            .contains("coffer.toml:10:1 [profile.web]")
    );
    assert!(
        find("connections")["source"]
            .as_str()
            .unwrap()
            .contains("[profile.base]")
    );
    assert_eq!(find("utc")["source"], "command line");
    assert_eq!(
        find("s3-timeout")["source"],
        "environment, COFFER_S3_TIMEOUT"
    );
    assert_eq!(find("quiet")["source"], "default");
    assert_eq!(find("keep-daily")["value"], "7");
    assert!(!out.stdout.contains("hunter2"), "{}", out.show());
    assert_eq!(find("password-command")["value"], "(set, not shown)");
    assert!(!out.stdout.contains(&c.password), "{}", out.show());
}

#[test]
fn every_toml_example_in_the_docs_is_accepted() {
    let c = profile_coffer();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let doc = ["CONFIG.md", "OPERATIONS.md"]
        .iter()
        .map(|f| std::fs::read_to_string(docs.join(f)).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let mut blocks = 0;
    for block in doc.split("```toml\n").skip(1) {
        let toml = block.split("```").next().unwrap();
        let file = c.path(&format!("doc{blocks}.toml"));
        std::fs::write(&file, toml).unwrap();
        let profiles: Vec<&str> = toml
            .lines()
            .filter_map(|l| l.strip_prefix("[profile.")?.strip_suffix(']'))
            .collect();
        for p in profiles.iter().map(|p| Some(*p)).chain([None]) {
            let mut args = vec!["--config", arg(&file)];
            if let Some(p) = p {
                args.extend(["--profile", p]);
            }
            args.extend(["config", "show"]);
            let out = c.run(&args);
            assert_eq!(
                out.code,
                0,
                "docs block {blocks}, profile {p:?}: {}",
                out.show()
            );
        }
        blocks += 1;
    }
    assert!(blocks >= 4, "the docs have {blocks} toml examples");
}

/// A default config location this user may not read (root's 0600 file,
/// seen by another user) is passed over, not an error for every command.
#[test]
fn a_config_this_user_may_not_read_is_passed_over() {
    let mut c = profile_coffer();
    let config = c.path(".config/coffer/coffer.toml");
    write(&config, "[default]\nrepo = \"/root-only\"\n");
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(c.dir.path(), Some(65534), Some(65534)).unwrap();
    c.as_user = Some(65534);
    let mut cmd = c.command(&["config", "show", "--json"]);
    cmd.env_remove("COFFER_CONFIG");
    let out = crate::support::Out::from_output("config show".into(), cmd.output().unwrap());
    assert!(!out.stdout.contains(arg(&config)), "{}", out.show());
    assert!(!out.stderr.contains(arg(&config)), "{}", out.show());
    // (A machine's own /etc/coffer/coffer.toml would be the next in line.)
    if !Path::new("/etc/coffer/coffer.toml").exists() {
        out.ok();
        assert_eq!(
            out.json()["config_file"],
            serde_json::Value::Null,
            "{}",
            out.show()
        );
    }
    // Readable, the same file is used (it comes before /etc).
    c.as_user = None;
    let mut cmd = c.command(&["config", "show", "--json"]);
    cmd.env_remove("COFFER_CONFIG");
    let out = crate::support::Out::from_output("config show".into(), cmd.output().unwrap());
    out.ok();
    assert_eq!(out.json()["config_file"], arg(&config), "{}", out.show());
}
