"""Reading a Prometheus scrape the way Prometheus does, with prometheus_client's own parser."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One scrape's samples, looked up by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0.0 for a series not (yet) in the scrape, as for a counter."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str, **labels: str) -> bool:
        return (name, frozenset(labels.items())) in self.samples

    def label_values(self) -> set[str]:
        return {value for _, labels in self.samples for _, value in labels}


def scrape_app(client: TestClient, **headers: str) -> Scrape:
    """The API's ``GET /metrics``, which must answer."""
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return Scrape(answer.text)


def scrape_port(port: int) -> Scrape | None:
    """A worker's metrics port on loopback; None while nothing listens there yet."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics")
    except httpx.ConnectError:
        return None
    assert answer.status_code == 200
    return Scrape(answer.text)
