"""The fault switches of the example chat service, and the contract test that catches them."""

from __future__ import annotations

from pathlib import Path

from tests.examples.chat_procs import (
    RunningService,
    StartService,
    json_line,
    run_script,
    wait_until,
)


def _thread(service: RunningService) -> int:
    with service.client() as http:
        return int(http.post("/threads", json={"title": "t"}).json()["id"])


def test_5xx_fault_fails_about_that_fraction_of_api_requests(start_service: StartService) -> None:
    service = start_service(env={"CHAT_FAULT_5XX": "0.5"})
    with service.client() as http:
        statuses = [http.get("/threads").status_code for _ in range(200)]
    assert set(statuses) == {200, 500}
    # Binomial(200, 0.5): 0.35..0.65 is more than four standard deviations either side.
    assert 0.35 <= statuses.count(500) / 200 <= 0.65
    assert "WARNING faults: 5xx=0.5" in service.log()


def test_status_stays_healthy_when_every_api_request_fails(start_service: StartService) -> None:
    service = start_service(env={"CHAT_FAULT_5XX": "1"})
    with service.client() as http:
        assert http.post("/threads", json={"title": "t"}).status_code == 500
        status = http.get("/status")
    assert status.status_code == 200
    assert status.json()["faults_active"] is True


def test_latency_fault_adds_at_least_the_configured_delay(start_service: StartService) -> None:
    service = start_service(env={"CHAT_FAULT_LATENCY": "0.2"})
    with service.client() as http:
        answers = [http.get("/threads") for _ in range(5)]
    assert all(answer.status_code == 200 for answer in answers)
    assert min(answer.elapsed.total_seconds() for answer in answers) >= 0.2


def test_healthy_service_passes_the_contract(service: RunningService, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    result = run_script(
        "contract.py",
        *("--url", service.url, "--db", str(service.db), "--artifact-dir", str(artifacts)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json_line(result.stdout)
    assert summary["failed"] == 0 and summary["passed"] > 0
    [artifact] = artifacts.glob("contract-run-*.out")
    assert str(artifact) == summary["artifact"]
    lines = artifact.read_text().splitlines()
    assert len(lines) == summary["passed"]
    assert all(line.startswith("PASS ") for line in lines)
    assert any(line.startswith("PASS db: message 5") for line in lines)


def test_dropped_writes_fail_the_contract(start_service: StartService, tmp_path: Path) -> None:
    service = start_service(version="go", env={"CHAT_FAULT_DROP_WRITES": "1"})
    artifacts = tmp_path / "artifacts"
    result = run_script(
        "contract.py",
        *("--url", service.url, "--db", str(service.db), "--artifact-dir", str(artifacts)),
        *("--messages", "3"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert json_line(result.stdout)["failed"] > 0
    [artifact] = artifacts.glob("contract-run-*.out")
    errors = [line for line in artifact.read_text().splitlines() if line.startswith("ERROR ")]
    assert any("api: message 1" in line and "not persisted" in line for line in errors)
    assert any("db: message 3" in line and "not persisted" in line for line in errors)
    # Every POST was acknowledged: the service lies, only reading back catches it.
    assert "PASS POST message 3 acknowledged" in artifact.read_text()
    assert service.log().count("chat[go] ERROR persistence: dropped write of message") == 3
    with service.client() as http:
        assert 'chat_dropped_writes_total{version="go"} 3.0' in http.get("/metrics").text


def test_faults_start_only_after_the_delay(start_service: StartService) -> None:
    service = start_service(env={"CHAT_FAULT_5XX": "1", "CHAT_FAULT_AFTER": "4"})
    with service.client() as http:
        assert http.get("/threads").status_code == 200
        assert http.get("/status").json()["faults_active"] is False
        wait_until(lambda: http.get("/threads").status_code == 500, what="the delayed fault")
        assert http.get("/status").json()["faults_active"] is True
    wait_until(lambda: "faults: active now: 5xx=1" in service.log(), what="the log line")


def test_thread_ids_survive_drop_writes(start_service: StartService) -> None:
    # Only message writes are dropped: threads are still created, so a contract run
    # pinpoints messages, not threads, as what did not persist.
    service = start_service(env={"CHAT_FAULT_DROP_WRITES": "1"})
    thread_id = _thread(service)
    with service.client() as http:
        assert http.get(f"/threads/{thread_id}/messages").json() == []
