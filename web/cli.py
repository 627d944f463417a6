"""``flask --app web kopa ...``, every command in one place: run everything, migrate, deploy,
seed, create users, relay, booking reminders, notification digests and the audit's
reconciliation, log verification and epochs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from booking import housekeeping, reminders
from community import accounts
from community.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
from community.errors import DomainError
from community.models import Role
from rewards.audit.actions import verify_audit_log
from rewards.audit.epochs import close_epoch
from rewards.ledger import skip_entry_ids
from web.accessors import database, vault
from web.boards.live import relay_pushes
from web.booking.settings import policy
from web.config import ANVIL_DEV_DEPLOYER_KEY
from web.migrate import upgrade
from web.notifications.delivery import delivery

kopa = AppGroup("kopa", help="Kopa operations.")
log = logging.getLogger("kopa")


def _step(message: str) -> None:
    click.secho(f"==> {message}", fg="cyan", err=True)


def _minter():
    """The platform minter account (created and stored encrypted on first use)."""
    from rewards.chain.platform import minter_account

    with database().write_sessions() as session:
        return minter_account(session, vault())


def _deployer_key(own_anvil: bool) -> str:
    key = current_app.config["KOPA_DEPLOYER_KEY"]
    if key:
        return key
    if own_anvil or current_app.config["KOPA_RPC_URL"].startswith("http://127.0.0.1"):
        return ANVIL_DEV_DEPLOYER_KEY
    raise click.ClickException("set KOPA_DEPLOYER_KEY to deploy Kopa's contracts on this chain")


def _deploy(own_anvil: bool) -> str:
    from rewards.chain.client import ChainError, connect
    from rewards.chain.deploy import ANCHOR, BADGES, CREDITS, current_deployment, ensure_deployment

    w3 = connect(current_app.config["KOPA_RPC_URL"])
    minter = _minter()
    with database().write_sessions() as session:
        try:  # all three there already: workers and restarts need no deployer key
            credits, *_ = (current_deployment(session, w3, c) for c in (CREDITS, BADGES, ANCHOR))
            return credits.address
        except ChainError:
            pass
        deployment = ensure_deployment(
            session, w3, deployer_key=_deployer_key(own_anvil), minter_address=minter.address
        )
        return deployment.address


@kopa.command("migrate")
def migrate_command() -> None:
    """Apply database migrations."""
    upgrade(current_app.config["KOPA_DATABASE_URL"])
    click.echo("database is up to date")


@kopa.command("deploy")
def deploy_command() -> None:
    """Deploy the contracts on the configured chain unless already there."""
    click.echo(f"KopaCredits at {_deploy(own_anvil=False)}")


@kopa.command("seed")
def seed_command() -> None:
    """Seed the demo community (once)."""
    created = seed_demo(database())
    click.echo("demo community created" if created else "demo community already present")


@kopa.command("create-user")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default="member")
@click.password_option()
def create_user_command(email: str, name: str, role: str, password: str) -> None:
    """Create an account, e.g. the first admin of a non-demo instance."""
    user_id = accounts.register_member(
        database().unit_of_work(), email=email, display_name=name, password=password, role=Role(role),
    )
    click.echo(f"user {user_id} created with role {role}")


@kopa.command("skip-entry-ids")
@click.argument("past", type=click.IntRange(0, 2**63 - 1))
def skip_entry_ids_command(past: int) -> None:
    """After restoring a backup older than the chain: give later ledger entries ids (and so
    chain refs) above PAST, the highest entry id the chain has used (docs/deployment.md)."""
    with database().write_sessions() as session:
        next_id = skip_entry_ids(session, past)
        session.commit()
    click.echo(f"the next ledger entry gets id {next_id}")


@kopa.command("relay")
@click.option("--once", is_flag=True, help="Deliver what is pending, then exit.")
@click.option("--batch-size", default=100, show_default=True)
def relay_command(once: bool, batch_size: int) -> None:
    """Deliver pending mint requests to the chain (run as its own process)."""
    from rewards.chain.client import ChainError, connect
    from rewards.chain.relay import Relay

    minter = _minter()
    db = database()
    # Recorded mints become points-minted notifications. With KOPA_REDIS_URL the pushes go
    # through the Socket.IO queue to every worker's clients; without it there is no queue and
    # the workers follow deliveries (and new notifications) in the database themselves.
    pushes = relay_pushes(db, push=bool(current_app.config["KOPA_REDIS_URL"]))
    relay = Relay(
        db, connect(current_app.config["KOPA_RPC_URL"]), minter, batch_size=batch_size, on_delivered=pushes
    )
    try:
        if once:
            while relay.run_once():
                pass
            current_app.extensions["kopa.notifications"].wait()  # e-mails of the notices
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        click.echo(f"relay delivering to {current_app.config['KOPA_RPC_URL']} as {minter.address}")
        relay.run_forever(stop)
    except ChainError as exc:
        raise click.ClickException(f"relay stopped: {exc}") from exc
    except KeyboardInterrupt:
        pass


@kopa.command("run")
def run_command() -> None:
    """Start anvil (unless KOPA_RPC_URL is set), migrate, deploy, seed, relay, reminders, serve."""
    from rewards.chain.anvil import Anvil

    app = current_app._get_current_object()
    cfg = app.config
    instance = Path(cfg["KOPA_INSTANCE_PATH"])
    own_anvil = not os.environ.get("KOPA_RPC_URL")
    anvil = None
    relay = reminders = None
    supervisor = os.getpid()
    try:
        if own_anvil:
            state = instance / "anvil-state.json"
            _step(f"starting anvil on 127.0.0.1:{cfg['KOPA_ANVIL_PORT']} (state: {state})")
            anvil = Anvil(cfg["KOPA_ANVIL_PORT"], state_file=state, log_file=instance / "anvil.log").start()
        _step("applying database migrations")
        upgrade(cfg["KOPA_DATABASE_URL"])
        _step("checking the contract deployment")
        address = _deploy(own_anvil)
        click.echo(f"    KopaCredits at {address} via {cfg['KOPA_RPC_URL']}", err=True)
        if cfg["KOPA_DEMO"]:
            _step("seeding the demo community (once)")
            seed_command.callback()
        # The relay process and gunicorn's worker use the chain chosen here.
        os.environ["KOPA_RPC_URL"] = cfg["KOPA_RPC_URL"]
        if cfg["KOPA_RELAY"] != "off":
            _step("starting the relay")
            relay = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "web", "kopa", "relay"], start_new_session=True
            )
        _step("starting booking reminders and notification digests (every minute)")
        reminders = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "web", "kopa", "reminders", "--every", "60"],
            start_new_session=True,
        )
        _banner(app)
        _serve(app)
    finally:
        if os.getpid() == supervisor:  # only the supervisor owns the relay and anvil
            for helper in (relay, reminders):
                if helper is not None and helper.poll() is None:
                    helper.terminate()
                    helper.wait(timeout=15)
            if anvil is not None:
                _step("stopping anvil (saving chain state)")
                anvil.stop()


# --- booking, notifications ---------------------------------------------------------------


@kopa.command("reminders")
@click.option("--every", type=float, default=0.0, help="Repeat every N seconds (0: run once).")
def reminders_command(every: float) -> None:
    """Booking housekeeping: expire undecided holds, release no-shows, send due reminders;
    with SMTP also the daily notification digests (when due) and failed e-mails again."""
    notices = delivery()
    db = database()
    while True:
        handled = housekeeping.housekeeping(db.unit_of_work(), policy=policy())
        # The reminders are notifications: e-mailed after the commit by the notification
        # delivery, as each member's preferences say.
        sent = reminders.send_due_reminders(db.unit_of_work(), policy=policy())
        mailing = notices.sender() is not None
        digests = notices.run_digests(if_due=True) + notices.retry() if mailing else 0
        notices.wait()
        click.echo(
            f"released or expired {handled} booking(s); sent {sent} reminder(s)"
            + (f"; {digests} digest(s) or retried e-mail(s)" if mailing
               else " (in-app only: KOPA_SMTP_URL is not set)")
        )
        if every <= 0:
            return
        time.sleep(every)


@kopa.command("digest")
@click.option("--if-due", is_flag=True,
              help="Only members whose daily digest is due (once a day, after KOPA_DIGEST_HOUR local time).")
def digest_command(if_due: bool) -> None:
    """E-mail each member in digest mode what is waiting for them (never an empty digest)."""
    work = delivery()
    if work.sender() is None:
        raise click.ClickException("KOPA_SMTP_URL is not set: digests go out by e-mail only")
    started = time.monotonic()
    sent = work.run_digests(if_due=if_due)
    retried = work.retry()
    work.wait()
    click.echo(f"sent {sent} digest(s) and {retried} retried e-mail(s) in {time.monotonic() - started:.1f}s")


# --- audit ---------------------------------------------------------------------------------


@kopa.command("reconcile")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def reconcile_command(as_json: bool) -> None:
    """Compare the ledger with balanceOf and replayed events; exit 1 on any mismatch."""
    from rewards.chain.audit import reconcile
    from rewards.chain.client import connect

    with database().read_sessions() as session:
        report = reconcile(session, connect(current_app.config["KOPA_RPC_URL"]))
    if as_json:
        click.echo(json.dumps(report, indent=1, default=str))
    else:
        click.echo(f"holders: {len(report['holders'])}, ledger total {report['ledger_total']}, "
                   f"delivered {report.get('delivered_total')}, total supply {report['total_supply']}, "
                   f"pending items {len(report['pending'])}")
        for m in report["mismatches"]:
            click.echo(f"MISMATCH {m['kind']}: {m['detail']} (entries {m.get('entries', [])})")
    if not report["ok"]:
        click.echo(f"reconciliation FAILED: {len(report['mismatches'])} mismatch(es)", err=True)
        sys.exit(1)
    click.echo("reconciliation ok")


@kopa.command("verify-audit-log")
def verify_audit_log_command() -> None:
    """Walk the hash-chained audit log; exit 1 if any row was altered, deleted or reordered."""
    with database().read_sessions() as session:
        problems = verify_audit_log(session)
    for problem in problems:
        click.echo(f"BROKEN {problem}")
    if problems:
        sys.exit(1)
    click.echo("audit log intact")


@kopa.command("close-epoch")
@click.option("--if-due", is_flag=True, help="Only when the open epoch is KOPA_EPOCH_SECONDS old (cron).")
def close_epoch_command(if_due: bool) -> None:
    """Close the open ledger epoch and queue its root for anchoring."""
    try:
        result = close_epoch(database().unit_of_work(), actor_id=None, only_if_due=if_due)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("no epoch due" if result is None else f"epoch {result['epoch']} closed: {result}")


def _banner(app: Flask) -> None:
    url = f"http://{app.config['KOPA_HOST']}:{app.config['KOPA_PORT']}"
    click.secho(f"\nKopa is serving at {url}", fg="green", bold=True, err=True)
    if app.config["KOPA_DEMO"]:
        click.echo(f"Demo logins (password: {DEMO_PASSWORD}):", err=True)
        for email, name, role in DEMO_ACCOUNTS:
            click.echo(f"    {email:<22} {role.value:<8} {name}", err=True)
    click.echo("Press Ctrl-C to stop.\n", err=True)


def _serve(app: Flask) -> None:
    """gunicorn with real WebSockets: a gevent worker (Flask-SocketIO's gevent mode) by
    default, or a threaded one (threading mode) with ``KOPA_WORKER_CLASS=gthread``.

    It runs as a fresh process: a gevent worker must patch the standard library before ssl,
    sockets and threads are imported, and this process has imported Flask, web3 and redis
    already. SIGTERM or Ctrl-C here stops it, then the caller stops the relay and anvil."""
    cfg = app.config
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"{cfg['KOPA_HOST']}:{cfg['KOPA_PORT']}",
        "--workers", "1", "--timeout", "120", "--graceful-timeout", "5", "--no-control-socket",
        "--pythonpath", str(Path(__file__).resolve().parents[1]),
    ]
    if cfg["KOPA_WORKER_CLASS"] == "gevent":
        command += ["--worker-class", "gevent", "--worker-connections", str(cfg["KOPA_WORKER_CONNECTIONS"])]
    else:
        command += ["--worker-class", "gthread", "--threads", str(cfg["KOPA_WORKER_THREADS"])]
    if cfg["DEBUG"]:
        command += ["--access-logfile", "-"]
    server = subprocess.Popen([*command, "web:create_app()"])

    def _terminate(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def register(app: Flask) -> None:
    app.cli.add_command(kopa)
