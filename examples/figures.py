"""Regenerate the README's figures with symcnn itself:

    python examples/figures.py

- examples/resnet50_macs.png: `symcnn plot resnet50 --sizes 32:512:8` (needs matplotlib);
- examples/macs_by_network.png: `symcnn plot resnet18 resnet50 vgg16 mobilenet_v2 --sizes
  32:512:8 --log` (one curve each);
- examples/resnet50_layers.png: `symcnn plot resnet50 --per-layer 224x224x3 --depth 1`;
- examples/vgg16_latex.png: `symcnn examples/vgg16_cs231n.cnn --format latex --standalone`
  compiled by pdflatex and rendered by pdftoppm (texlive-latex-base, poppler-utils).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def symcnn(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "symcnn", *args], check=True)


def main() -> None:
    symcnn("plot", "resnet50", "--sizes", "32:512:8", "-o", str(HERE / "resnet50_macs.png"))
    symcnn("plot", "resnet18", "resnet50", "vgg16", "mobilenet_v2", "--sizes", "32:512:8",
           "--log", "-o", str(HERE / "macs_by_network.png"))
    symcnn("plot", "resnet50", "--per-layer", "224x224x3", "--depth", "1",
           "-o", str(HERE / "resnet50_layers.png"))
    with tempfile.TemporaryDirectory() as tmp:
        tex = Path(tmp) / "vgg16.tex"
        symcnn(str(HERE / "vgg16_cs231n.cnn"), "--format", "latex", "--standalone",
               "--label", "tab:vgg16", "-o", str(tex))
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                        "vgg16.tex"], cwd=tmp, check=True, capture_output=True)
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1",
                        "-x", "55", "-y", "195", "-W", "815", "-H", "465", "vgg16.pdf",
                        str(HERE / "vgg16_latex")], cwd=tmp, check=True)
    (HERE / "vgg16_latex-1.png").replace(HERE / "vgg16_latex.png")
    print("wrote examples/resnet50_macs.png, macs_by_network.png, resnet50_layers.png and "
          "vgg16_latex.png")


if __name__ == "__main__":
    main()
