"""Central differences of the lookahead objective, the independent reference every
hyper-gradient test checks against."""
import torch

from ohgw.warmstart import lookahead_loss


def lookahead(module, train, val, hp, seed=1, **kw):
    torch.manual_seed(seed)
    return lookahead_loss(module, train, val, hp, **kw).item()


def central_difference(module, train, val, hp, name, h, **kw):
    up = lookahead(module, train, val, {**hp, name: hp[name] + h}, **kw)
    down = lookahead(module, train, val, {**hp, name: hp[name] - h}, **kw)
    return (up - down) / (2 * h)


def agrees(grad, fd):
    if abs(fd) > 1e-5:
        return abs(grad - fd) / abs(fd) < 1e-4
    return abs(grad - fd) < 1e-9  # tiny gradient: absolute agreement


def assert_matches_finite_differences(module, train, val, hp, name, grad, **kw):
    """ReLU and max-pool make F piecewise smooth, with jumps wherever the training gradient
    jumps: a central difference that straddles a jump is meaningless. The gradient must
    match the difference on a smooth piece, i.e. for at least one of several small steps
    (a wrong gradient matches none of them)."""
    fds = []
    for h in (1e-6, 1e-7, 1e-8):
        fds.append(central_difference(module, train, val, hp, name, h, **kw))
        if agrees(grad, fds[-1]):
            return
    raise AssertionError(f"{name}: hyper-gradient {grad} vs central differences {fds}")
