"""The exercises of notebook 14: the gated state update and causal linear attention in its parallel form,
checked against the recurrent form. Each reference is declared with its random inputs and its hints
(helpers.exercises.check)."""
import torch

from .check import exercise, randint, randn, same


def state_and_token(gen):
    B, d, dv = randint(gen, 1, 3), randint(gen, 2, 5), randint(gen, 6, 8)  # dv ≠ d: a transposed state shows
    return (randn(gen, B, dv, d), torch.rand(B, generator=gen), torch.rand(B, generator=gen), randn(gen, B, d),
            randn(gen, B, dv))


def outer(k, v):
    return v[:, :, None] * k[:, None, :]  # (B, dv, d)


@exercise("14", state_and_token, "the mLSTM's state update", shape="(B, dv, d)", hints=[
    (lambda out, ref, a: same(out, a[0] + outer(a[3], a[4])),
     ("Gate-கள் இல்லை: பழைய state-ஐ f-ஆலும் புதிய v·kᵀ-ஐ i-ஆலும் பெருக்குங்கள்",
      "no gates: multiply the old state by f and the new v·kᵀ by i")),
    (lambda out, ref, a: same(out, a[0] + a[2][:, None, None] * outer(a[3], a[4])),
     ("பழைய state-ஐ மறக்கவில்லை: அதை f-ஆல் பெருக்குங்கள்", "the old state is not forgotten: multiply it by f")),
    (lambda out, ref, a: same(out, a[1][:, None, None] * a[0] + outer(a[3], a[4])),
     ("புதிய v·kᵀ-ஐ input gate i-ஆல் பெருக்குங்கள்", "multiply the new v·kᵀ by the input gate i")),
    (lambda out, ref, a: same(out, a[2][:, None, None] * a[0] + a[1][:, None, None] * outer(a[3], a[4])),
     ("f, i இடம் மாறிவிட்டன", "f and i are swapped")),
])
def gated_update(S, f, i, k, v):
    """Notebook 14: S (B, dv, d), f, i (B,), k (B, d), v (B, dv) -> f·S + i·v·kᵀ (B, dv, d)."""
    return f[:, None, None] * S + i[:, None, None] * v[:, :, None] * k[:, None, :]


def positive_qkv(gen):
    B, T, d = randint(gen, 1, 3), randint(gen, 3, 7), randint(gen, 2, 5)
    return (torch.rand(B, T, d, generator=gen) + 0.1, torch.rand(B, T, d, generator=gen) + 0.1,
            randn(gen, B, T, randint(gen, 2, 4)))


def recurrent(Q, K, V):
    """The reference: a (dv, d) state and the sum of the keys, one step at a time."""
    S = Q.new_zeros(len(Q), V.size(-1), Q.size(-1))  # (B, dv, d)
    z = Q.new_zeros(len(Q), Q.size(-1))              # (B, d)
    out = []
    for t in range(Q.size(1)):
        S = S + V[:, t, :, None] * K[:, t, None, :]
        z = z + K[:, t]
        out.append((S @ Q[:, t, :, None])[..., 0] / (z * Q[:, t]).sum(-1, keepdim=True))
    return torch.stack(out, dim=1)                   # (B, T, dv)


def unmasked(Q, K, V):
    A = Q @ K.transpose(1, 2)
    return A @ V / A.sum(-1, keepdim=True)


@exercise("14", positive_qkv, "the recurrent form, step by step", shape="(B, T, dv)", hints=[
    (lambda out, ref, a: same(out, unmasked(*a)),
     ("எதிர்காலம் தெரிகிறது: Q·Kᵀ-இல் diagonal-க்கு மேல் உள்ளவற்றை 0 ஆக்குங்கள் (tril)",
      "the future is visible: set Q·Kᵀ above the diagonal to 0 (tril)")),
    (lambda out, ref, a: same(out, (a[0] @ a[1].transpose(1, 2)).tril() @ a[2]),
     ("Normaliser இல்லை: ஒவ்வொரு வரிசையையும் அதன் கூட்டுத்தொகையால் வகுங்கள்",
      "no normaliser: divide each row by its sum")),
])
def causal_linear_attention(Q, K, V):
    """Notebook 14: positive features Q, K (B, T, d), values V (B, T, dv) -> (tril(Q·Kᵀ)·V) / row sums (B, T, dv)."""
    A = (Q @ K.transpose(1, 2)).tril()  # (B, T, T)
    return A @ V / A.sum(-1, keepdim=True)


def heads_and_range(gen):
    low = float(torch.rand(1, generator=gen)) * 4 - 1
    return randint(gen, 2, 8), low, low + 0.5 + float(torch.rand(1, generator=gen)) * 4


@exercise("14", heads_and_range, "torch.linspace(low, high, n_heads)", shape="(n_heads,)", hints=[
    (lambda out, ref, a: same(out, torch.linspace(a[2], a[1], a[0])),
     ("வரிசை தலைகீழ்: முதல் head-க்கு low, கடைசிக்கு high", "reversed: the first head gets low, the last high")),
    (lambda out, ref, a: same(out, torch.full((a[0],), a[1])) or same(out, torch.full((a[0],), a[2])),
     ("எல்லா head-களுக்கும் ஒரே எண்: low முதல் high வரை பரப்புங்கள் (torch.linspace)",
      "every head the same: spread them from low to high (torch.linspace)")),
    (lambda out, ref, a: same(out, a[1] + torch.arange(a[0]) * (a[2] - a[1]) / a[0]),
     ("கடைசி head-க்கு high சரியாக வர வேண்டும்: இரண்டு முனைகளும் உட்பட", "the last head must get high exactly: "
      "both ends included")),
])
def forget_biases(n_heads, low, high):
    """Notebook 14: the forget-gate bias of each of n_heads heads, spread evenly from low to high (n_heads,)."""
    return torch.linspace(low, high, n_heads)
