"""Paper B's sequential recommenders; "sasrec+" and "bert4rec+" are SASRec and BERT4Rec
given auxiliary item features (``aux_features``)."""

from mmrec_lib.models.sequential.bert4rec import BERT4Rec, KeBERT4Rec
from mmrec_lib.models.sequential.bpr import BPR
from mmrec_lib.models.sequential.poprec import PopRec
from mmrec_lib.models.sequential.sasrec import SASRec
from mmrec_lib.models.sequential.transrec import TransRec

SEQUENTIAL_MODELS = {
    "poprec": PopRec,
    "bpr": BPR,
    "transrec": TransRec,
    "sasrec": SASRec,
    "bert4rec": BERT4Rec,
    "kebert4rec": KeBERT4Rec,
}
