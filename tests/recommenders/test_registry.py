"""The array codec and the CF model registry (issue 15): names, dtypes and order of the
stored arrays follow from the model classes, and the engine finds CF models by name."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recograph.recommenders.codec import decode, encode
from recograph.recommenders.ease import EASEModel
from recograph.recommenders.item_knn import ItemKNN
from recograph.recommenders.protocol import CFRequest
from recograph.recommenders.registry import CF_MODELS, cf_entry
from recograph.recommenders.user_knn import UserKNN


def test_dense_and_scalar_fields_become_named_arrays_of_the_declared_dtype() -> None:
    model = EASEModel(weights=np.array([[0.0, 2.0], [3.0, 0.0]], dtype=np.float64), l2=5)
    arrays = encode(model, "ease.")
    assert list(arrays) == ["ease.weights", "ease.l2"]
    assert arrays["ease.weights"].dtype == np.float32
    assert arrays["ease.weights"].tolist() == [[0.0, 2.0], [3.0, 0.0]]
    assert arrays["ease.l2"].dtype == np.float64
    assert arrays["ease.l2"].shape == ()
    values = decode(EASEModel, arrays, "ease.")
    assert values["l2"] == 5.0
    assert isinstance(values["l2"], float)
    back = EASEModel.from_arrays(arrays)
    assert back.weights.tolist() == [[0.0, 2.0], [3.0, 0.0]]
    assert back.l2 == 5.0


def test_sparse_fields_keep_the_artifact_order_of_user_knn() -> None:
    neighbours = sp.csr_matrix(np.array([[0.0, 0.5], [0.5, 0.0]], dtype=np.float32))
    item_users = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=np.float32))
    model = UserKNN(
        neighbours=neighbours,
        item_users=item_users,
        user_norms=np.array([1.0, 2.0], dtype=np.float32),
        k=1,
    )
    names = list(model.to_arrays())
    assert names == [
        "user_knn.neighbours.data",
        "user_knn.neighbours.indices",
        "user_knn.neighbours.indptr",
        "user_knn.neighbours.shape",
        "user_knn.item_users.data",
        "user_knn.item_users.indices",
        "user_knn.item_users.indptr",
        "user_knn.item_users.shape",
        "user_knn.user_norms",
        "user_knn.k",
    ]
    back = UserKNN.from_arrays(model.to_arrays())
    assert back.k == 1
    assert back.item_users.toarray().tolist() == item_users.toarray().tolist()


def test_a_model_that_does_not_fit_its_arrays_is_refused() -> None:
    arrays = ItemKNN(similarity=sp.csr_matrix((2, 3), dtype=np.float32), k=3).to_arrays()
    with pytest.raises(ValueError, match=r"item_knn\.similarity must be square"):
        ItemKNN.from_arrays(arrays)


def test_models_score_through_the_protocol() -> None:
    similarity = sp.csr_matrix(np.array([[0.0, 0.5], [0.25, 0.0]], dtype=np.float32))
    request = CFRequest(
        history=np.array([2.0, 0.0], dtype=np.float32),
        user=None,
        exact=False,
        interactions=sp.csr_matrix((1, 2), dtype=np.float32),
    )
    # h @ S: product 1 gets 2 × 0.5, product 0 nothing (its own row is not a neighbour)
    assert ItemKNN(similarity=similarity, k=1).score(request).tolist() == [0.0, 1.0]


def test_the_registry_names_every_cf_model_in_artifact_order() -> None:
    assert CF_MODELS == ("item_knn", "user_knn", "svd", "als", "ease")
    assert cf_entry("ease").stand_in == "item_knn"
    assert cf_entry("svd").prefix == "svd."
    with pytest.raises(ValueError, match="unknown CF model 'nope'; expected one of item_knn"):
        cf_entry("nope")
