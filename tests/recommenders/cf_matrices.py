"""Tiny user×item matrices shared by the CF model tests, with the figures worked out on them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

Scores = npt.NDArray[np.float32]
SQRT_2_3 = np.sqrt(2 / 3)
INV_SQRT_6 = 1 / np.sqrt(6)


def csr(rows: list[list[float]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


def row(X: sp.csr_matrix, user: int) -> npt.NDArray[np.float32]:
    return np.asarray(X[user].toarray(), dtype=np.float32).ravel()


# Two groups: customers 0-2 buy only products 0-2, customers 3-5 only products 3-5, each
# missing one product of their own group. Customer 6 bought nothing; nobody bought product 6.
CHECKERBOARD = csr(
    [
        [1, 1, 0, 0, 0, 0, 0],
        [0, 1, 1, 0, 0, 0, 0],
        [1, 0, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 1, 0],
        [0, 0, 0, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ]
)
GROUPS = (np.array([0, 1, 2]), np.array([3, 4, 5]))
EMPTY_USER = 6
EMPTY_ITEM = 6

# Column cosines: (0,1) √(2/3), (0,2) 1/√6, (1,2) 2/3, (2,3) 1/√3, others 0.
# Row cosines: (0,1) √(2/3), (0,2) 1/2, (1,2) √(2/3), (1,3) 1/√6, (2,3) 1/2, (0,3) 0.
SMALL = csr(
    [
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [0, 1, 1, 0],
        [0, 0, 1, 1],
    ]
)


def random_matrix(n_users: int, n_items: int, density: float, seed: int) -> sp.csr_matrix:
    matrix = sp.random(
        n_users, n_items, density=density, format="csr", random_state=seed, dtype=np.float32
    )
    matrix.data[:] = 1.0
    return sp.csr_matrix(matrix)


def neighbour_dict(matrix: sp.csr_matrix, i: int) -> dict[int, float]:
    line = matrix[i]
    return {int(c): float(v) for c, v in zip(line.indices, line.data, strict=True)}
