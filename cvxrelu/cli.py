"""The command line: parse, load (isolated), call the library once, render.

Exit codes (docs/cli.md): 0 success / certified optimal, 1 verify not certified,
2 bad usage or bad input (one line on stderr), 3 internal error (one line; --debug for the
traceback). With --json stdout carries exactly one JSON object; diagnostics go to stderr.
BLAS runs on one thread so that results do not depend on the machine's thread count.

Each command is one click function here; command groups defined elsewhere join with
``cli.add_command(...)``. Library modules are imported inside the commands so that
``cvxrelu --help`` stays fast.
"""

from __future__ import annotations

import os

# Deterministic results whatever the machine or the caller's environment: a multithreaded BLAS
# may sum in a different order from run to run, so the CLI pins every BLAS to one thread
# (tests/test_cli_determinism.py runs verify under different thread settings).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import json  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import click  # noqa: E402

from . import __version__  # noqa: E402

#: Exit codes (docs/cli.md, "Exit codes").
EXIT_OK = 0
EXIT_NOT_CERTIFIED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

_DEBUG = {"on": False}


def _emit_json(d: dict) -> None:
    sys.stdout.write(json.dumps(d, allow_nan=False, sort_keys=False) + "\n")


def _debug_option(f):
    return click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.",
                        callback=lambda ctx, p, v: _DEBUG.update(on=v) or v, expose_value=False,
                        is_eager=True)(f)


def _json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(f)


def _jobs_options(f):
    f = click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run the exact enumeration on this dask.distributed scheduler "
                          "(pip install 'cvxrelu[dask]'); same results (docs/scale.md).")(f)
    return click.option("--jobs", type=click.IntRange(min=0), default=0, show_default=True,
                        help="Worker processes for the exact enumeration (0: all cores); the "
                             "results do not depend on it.")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cvxrelu")
def cli():
    """Certify and compute globally optimal two-layer ReLU networks."""


@cli.command()
@click.argument("checkpoint")
@click.option("--data", "data_path", help="HDF5 data file overriding the checkpoint's /data.")
@click.option("--tol", type=click.FloatRange(0, 1, max_open=True), default=1e-6, show_default=True,
              help="Relative gap tolerance.")
@click.option("--witness", "witness_path", help="Write the better network here when suboptimal.")
@_jobs_options
@_json_option
@_debug_option
def verify(checkpoint, data_path, tol, witness_path, jobs, scheduler, as_json):
    """Certify that CHECKPOINT is a global minimum of its training objective."""
    from .certificate import Status
    from .certificate import verify as run_verify
    from .errors import InputError, TooLargeError
    from .io import check_data_for, load_isolated, save_checkpoint, sha256_file
    from .progress import make_progress
    from .report import render_certificate

    ck = load_isolated(checkpoint, "checkpoint")
    data = ck.data
    inputs = {"checkpoint": ck.sha256}
    if data_path is not None:
        data = load_isolated(data_path, "data")
        check_data_for(ck, data, data_path)
        inputs["data"] = sha256_file(data_path)
    if data is None:
        raise InputError(f"{checkpoint}: no /data in the checkpoint; pass --data DATA")
    with make_progress() as progress:
        try:
            cert = run_verify(ck.network, data, ck.model, tol=tol, progress=progress, jobs=jobs,
                              scheduler=scheduler)
        except TooLargeError as exc:  # name the input whose arrangement is too large
            raise InputError(f"{data_path or checkpoint}: /data/X: {exc}") from None
    d = cert.to_dict()
    d["inputs"] = inputs
    if witness_path is not None:
        if cert.witness is not None:
            save_checkpoint(witness_path, cert.witness, ck.model, data,
                            attrs={"witness_of": checkpoint, "witness_kind": str(d["witness"]["kind"])})
            d["witness"]["path"] = witness_path
        else:
            click.echo(f"cvxrelu: no better network to write to {witness_path} (status {cert.status.value})",
                       err=True)
    if as_json:
        _emit_json(d)
    else:
        render_certificate(d)
    return EXIT_OK if cert.status is Status.OPTIMAL else EXIT_NOT_CERTIFIED


@cli.command()
@click.argument("data_path", metavar="DATA")
@click.option("--beta", type=float, required=True, help="Weight decay (> 0).")
@click.option("--loss", type=click.Choice(["squared", "logistic"]), default="squared", show_default=True)
@click.option("--hidden-bias", type=click.Choice(["none", "penalized", "free"]), default="none", show_default=True)
@click.option("--output-bias", type=click.Choice(["none", "penalized", "free"]), default="none", show_default=True)
@click.option("-o", "--output", "out", required=True, help="Checkpoint to write (with the data).")
@click.option("--patterns", type=click.IntRange(min=1), default=None,
              help="Sample this many patterns instead of exact ones.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--solver", type=click.Choice(["auto", "ipm", "clarabel", "first-order"]), default="auto", show_default=True,
              help="ipm: structured interior point (squared loss); auto: ipm, Clarabel for the logistic "
                   "loss, first-order when the interior point would not fit in memory.")
@click.option("--width", type=click.IntRange(min=1), default=None, help="Exactly this many neurons.")
@click.option("--search/--no-search", default=True, show_default=True,
              help="With sampled patterns, improve them by gradient warm starts and dual-guided search.")
@click.option("--search-rounds", type=click.IntRange(min=0), default=30, show_default=True,
              help="At most this many rounds of dual-guided pattern search.")
@click.option("--search-seconds", type=click.FloatRange(min=0), default=None,
              help="Start no pattern-search round after this many seconds of search (default: no limit).")
@_json_option
@_debug_option
def solve(data_path, beta, loss, hidden_bias, output_bias, out, patterns, seed, solver, width, search,
          search_rounds, search_seconds, as_json):
    """Train a globally optimal network on DATA by convex optimization."""
    from .io import load_isolated, save_checkpoint
    from .model import Model
    from .progress import make_progress
    from .report import render_solve
    from .solve import solve as run_solve
    from .validation import check_labels

    model = Model(beta=beta, loss=loss, hidden_bias=hidden_bias, output_bias=output_bias)
    data = load_isolated(data_path, "data")
    check_labels(model, data.y, f"{data_path}: /data/y: ")
    with make_progress() as progress:
        res = run_solve(data, model, patterns=patterns, seed=seed, solver=solver, width=width, search=search,
                        search_rounds=search_rounds, search_seconds=search_seconds, progress=progress)
    save_checkpoint(out, res.network, model, data, attrs={"solved_with": f"cvxrelu {__version__}"})
    d = res.to_dict()
    d["output"] = out
    if as_json:
        _emit_json(d)
    else:
        render_solve(d)
    return EXIT_OK


from .constructive.commands import landscape_cmd, optimal_set_cmd, path_cmd, reduce_cmd  # noqa: E402

cli.add_command(reduce_cmd)
cli.add_command(optimal_set_cmd)
cli.add_command(landscape_cmd)
cli.add_command(path_cmd)


from .interop.commands import export_command, import_command  # noqa: E402

cli.add_command(import_command)
cli.add_command(export_command)


def main(argv=None) -> None:
    """Entry point: maps every outcome to the exit codes of docs/cli.md."""
    from .errors import CvxReluError, InputError

    try:
        rv = cli.main(args=argv, prog_name="cvxrelu", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):  # Ctrl-C; outputs are written atomically
        click.echo("cvxrelu: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:  # usage errors
        click.echo(f"cvxrelu: error: {exc.format_message()}".replace("\n", " "), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except InputError as exc:
        click.echo(f"cvxrelu: error: {exc}".replace("\n", " "), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except (CvxReluError, Exception) as exc:  # noqa: BLE001 - the one place errors are translated
        if _DEBUG["on"]:
            traceback.print_exc()
        msg = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"cvxrelu: internal error: {type(exc).__name__}: {msg}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


if __name__ == "__main__":
    main()
