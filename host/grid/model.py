# Linear multi-area LFC model: continuous state space, exact zero-order-hold discretisation.
#
# Per area i (MW, Hz, s; df_i = f_i - f0):
#   M_i d(df_i)/dt = pg_i + u_i - D_i df_i - sum_k inc[i,k] pt_k     M_i = 2 H_i S_i / f0
#   Tg_i d(xg_i)/dt = -xg_i - G_i df_i + c_i                           governor (droop 1/R = G)
#   Tt_i d(pg_i)/dt = -pg_i + xg_i                                     turbine / FCR provider
# Per AC tie k from area a to b (export from a positive), flow F_k = pt_k + Dt_k (df_a - df_b):
#   d(pt_k)/dt = 2 pi T_k (df_a - df_b)                               T_k synchronising [MW/rad]
#   Dt_k [MW/Hz]: damping of the inter-area swing (damper windings, PSS; 0 in the benchmark)
#   and sum_k inc[i,k] F_k replaces sum_k inc[i,k] pt_k in the swing equation.
# u_i: exogenous injection (aFRR delivered + units + HVDC - load), MW, held over one step.
# c_i: FCR nonlinearity correction (deadband, saturation), MW, held over one step:
#   c_i = G_i df_i - sat(G_i * dz(df_i))   (c = 0 when there is no deadband or limit).
import math

import numpy as np
from scipy.linalg import expm


class Model:
    """Index layout and matrices of one world; see the module comment for the equations."""

    def __init__(self, world, fcr=True):
        self.world = world
        na, nt = len(world.areas), len(world.ties)
        self.na, self.nt = na, nt
        self.n = 3 * na + nt
        self.i_df = slice(0, na)
        self.i_xg = slice(na, 2 * na)
        self.i_pg = slice(2 * na, 3 * na)
        self.i_pt = slice(3 * na, 3 * na + nt)
        f0 = world.f0_hz
        a = world.areas
        self.m = np.array([2.0 * x.inertia_h_s * x.base_mw / f0 for x in a])   # MW s/Hz
        self.d = np.array([x.d_mw_per_hz for x in a])
        g = np.array([x.fcr_gain_mw_per_hz for x in a]) if fcr else np.zeros(na)
        self.g = g
        self.fcr_max = np.array([x.fcr_max_mw for x in a])
        self.db_hz = np.array([x.fcr_deadband_mhz for x in a]) / 1000.0
        self.nonlinear = bool(fcr and (np.any(self.db_hz > 0) or
                                       np.any(np.isfinite(self.fcr_max))))
        tg = np.array([x.tg_s for x in a])
        tt = np.array([x.tt_s for x in a])
        self.inc = np.zeros((na, nt))            # +1 at a (exporter), -1 at b
        for k, t in enumerate(world.ties):
            self.inc[world.area_index(t.a), k] = 1.0
            self.inc[world.area_index(t.b), k] = -1.0
        n = self.n
        A = np.zeros((n, n))
        Bu = np.zeros((n, na))
        Bc = np.zeros((n, na))
        for i in range(na):
            df, xg, pg = i, na + i, 2 * na + i
            A[df, df] = -self.d[i] / self.m[i]
            A[df, pg] = 1.0 / self.m[i]
            for k in range(nt):
                A[df, 3 * na + k] = -self.inc[i, k] / self.m[i]
            Bu[df, i] = 1.0 / self.m[i]
            A[xg, xg] = -1.0 / tg[i]
            A[xg, df] = -g[i] / tg[i]
            Bc[xg, i] = 1.0 / tg[i]
            A[pg, pg] = -1.0 / tt[i]
            A[pg, xg] = 1.0 / tt[i]
        for k, t in enumerate(world.ties):
            ia, ib = world.area_index(t.a), world.area_index(t.b)
            A[3 * na + k, ia] = 2.0 * math.pi * t.sync_mw
            A[3 * na + k, ib] = -2.0 * math.pi * t.sync_mw
        # flow map: F = Cf x (tie flows, MW); damping enters the swing equations through it
        cf = np.zeros((nt, n))
        for k, t in enumerate(world.ties):
            ia, ib = world.area_index(t.a), world.area_index(t.b)
            cf[k, 3 * na + k] = 1.0
            cf[k, ia] += t.damp_mw_per_hz
            cf[k, ib] -= t.damp_mw_per_hz
        for i in range(na):
            A[i, :] -= (self.inc[i] @ (cf - np.eye(nt, n, 3 * na))) / self.m[i]
        self.cf = cf
        self.A, self.Bu, self.Bc = A, Bu, Bc

    def flows(self, x):
        """AC tie flows (MW, a -> b) from one state (n,) or many states (..., n)."""
        return x @ self.cf.T

    def discretise(self, dt_s):
        """Exact ZOH: returns Ad (n,n), Bud (n,na), Bcd (n,na)."""
        n, na = self.n, self.na
        big = np.zeros((n + 2 * na, n + 2 * na))
        big[:n, :n] = self.A
        big[:n, n:n + na] = self.Bu
        big[:n, n + na:] = self.Bc
        e = expm(big * dt_s)
        return e[:n, :n].copy(), e[:n, n:n + na].copy(), e[:n, n + na:].copy()

    def fcr_power(self, df_hz):
        """Static FCR characteristic (MW, + = upward) for a frequency deviation (Hz)."""
        df = np.asarray(df_hz, dtype=float)
        dz = df - np.clip(df, -self.db_hz, self.db_hz)
        return -np.clip(self.g * dz, -self.fcr_max, self.fcr_max)
