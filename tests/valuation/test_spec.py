"""A job spec is read back exactly as it was written, and a spec a reader would misread is
refused by name."""

import pytest

from tests.support.specs import cancer_spec
from valuation.spec import JobSpec


@pytest.mark.django_db
def test_a_stored_spec_reads_back_equal_and_versioned():
    spec = cancer_spec(n_players=2, basis_fits=64)
    stored = spec.to_dict()
    assert stored["version"] == JobSpec.VERSION and stored["basis_fits"] == 64
    assert JobSpec.from_dict(stored) == spec
    assert JobSpec.from_dict({k: v for k, v in stored.items() if k != "version"}) == spec
    assert spec.n_rows == 80 and spec.player_names == ["d0", "d1"]
    assert set(spec.data()) == set(JobSpec.DATA_FIELDS)
    assert spec.replace(metric="f1").data() == spec.data()  # the same data, loaded once


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "a version 2 job spec"),
        ({"samples_per_chunkk": 5}, "unknown job spec keys: samples_per_chunkk"),
        ({"players": [{"name": "d0"}]}, "a job spec player is malformed"),
    ],
)
def test_a_spec_a_reader_would_misread_is_refused(change, message):
    stored = {**cancer_spec(n_players=1).to_dict(), **change}
    with pytest.raises(ValueError, match=message):
        JobSpec.from_dict(stored)
    del stored["valid"]
    with pytest.raises(ValueError):
        JobSpec.from_dict(stored)


@pytest.mark.django_db
def test_a_spec_without_its_data_names_what_it_lacks():
    stored = cancer_spec(n_players=1).to_dict()
    del stored["valid"], stored["model"]
    with pytest.raises(ValueError, match="the job spec lacks model, valid"):
        JobSpec.from_dict(stored)
