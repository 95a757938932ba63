"""``airflow-mlops``: administer workflows from a shell with the same services the UI and API use.

Run it where Airflow's configuration is (same AIRFLOW_HOME / environment as the api-server), since a
save also asks Airflow to re-parse the DAG file. Output is JSON, for scripts.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from airflow_mlops.services import portable, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import InvalidInput, ServiceError


def _read(path: str) -> dict[str, Any]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    return json.loads(text)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow-mlops", description=__doc__.splitlines()[0])
    parser.add_argument("--actor", default=f"cli:{getpass.getuser()}", help="name recorded in the audit log")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a workflow from a JSON spec file ('-' for stdin)")
    create.add_argument("file")
    create.add_argument("--inactive", action="store_true", help="create its DAG paused")
    update = sub.add_parser("update", help="replace a workflow's spec")
    update.add_argument("workflow_id")
    update.add_argument("file")
    update.add_argument("--revision", type=int, help="fail unless the workflow is still at this revision")
    update.add_argument("--message", default="")
    get = sub.add_parser("get", help="show one workflow")
    get.add_argument("workflow_id")
    listing = sub.add_parser("list", help="list workflows")
    listing.add_argument("--archived", action="store_true", help="include deleted (archived) workflows")
    delete = sub.add_parser("delete", help="delete (archive) a workflow: its DAG goes, its history stays")
    delete.add_argument("workflow_id")
    delete.add_argument("--revision", type=int)
    export = sub.add_parser("export", help="write a workflow or template as JSON or YAML to stdout")
    export.add_argument("kind", choices=portable.KINDS)
    export.add_argument("object_id")
    export.add_argument("--format", choices=("json", "yaml"), default="yaml")
    importing = sub.add_parser("import", help="create a workflow or template from an exported file ('-' for stdin)")
    importing.add_argument("file")
    templates_cmd = sub.add_parser("templates", help="built-in template library")
    templates_cmd.add_argument("action", choices=("load",), help="install or upgrade the built-in templates")
    shards_cmd = sub.add_parser("shards", help="DAG files for [mlops] dag_file_shards")
    shards_cmd.add_argument("action", choices=("write",),
                            help="copy the MLOps DAG file to one file per extra shard; remove files of unused shards")
    shards_cmd.add_argument("--dag-file", help="shard 0's file (default: [core] dags_folder / [mlops] dag_file)")
    shards_cmd.add_argument("--shards", type=int, help="number of shards (default: [mlops] dag_file_shards)")
    args = parser.parse_args(argv)
    if args.command == "shards":
        return _write_shards(args.dag_file, args.shards)
    actor = Actor.system(args.actor)

    try:
        if args.command == "create":
            _print(workflows.create_workflow(_read(args.file), actor, active=not args.inactive).to_dict())
        elif args.command == "update":
            _print(workflows.update_workflow(args.workflow_id, _read(args.file), actor,
                                             expected_revision=args.revision, message=args.message).to_dict())
        elif args.command == "get":
            _print(workflows.get_workflow(args.workflow_id).to_dict())
        elif args.command == "list":
            _print([w.to_dict() for w in workflows.list_workflows(include_archived=args.archived, limit=10**9).items])
        elif args.command == "export":
            document = (portable.export_workflow(args.object_id) if args.kind == "workflow"
                        else portable.export_template(args.object_id, actor))
            sys.stdout.write(portable.dumps(document, args.format))
        elif args.command == "import":
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
            kind, record = portable.import_document(portable.loads(text), actor)
            _print({"kind": kind, "id": record.id, "name": record.name})
        elif args.command == "templates":
            from airflow_mlops.services.template_library import sync_builtin_templates

            _print(sync_builtin_templates())
        elif args.command == "delete":
            _print(workflows.delete_workflow(args.workflow_id, actor, expected_revision=args.revision).to_dict())
    except InvalidInput as exc:
        _print({"error": type(exc).__name__, "errors": [e.to_dict() for e in exc.errors]})
        return 2
    except ServiceError as exc:
        _print({"error": type(exc).__name__, "detail": str(exc)})
        return 1
    return 0


def _write_shards(dag_file: str | None, count: int | None) -> int:
    """Shard files are copies of shard 0's file (each takes its index from its name), so upgrades stay one copy."""
    from airflow.configuration import conf

    from airflow_mlops_dag_factory import bundle, settings, shards

    if dag_file is None and bundle.configured():
        _print({"shards": count or shards.shard_count(), "written": [], "removed": [],
                "detail": "the MLOps DAG bundle writes its shard files itself; nothing to do"})
        return 0
    main_file = Path(dag_file or Path(conf.get("core", "dags_folder")) / settings.get("dag_file"))
    if not main_file.is_file():
        _print({"error": "NotFound", "detail": f"no DAG file at {main_file}"})
        return 1
    written, removed = shards.write_shard_files(main_file, count or shards.shard_count())
    _print({"shards": count or shards.shard_count(), "written": [str(p) for p in written],
            "removed": [str(p) for p in removed]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
