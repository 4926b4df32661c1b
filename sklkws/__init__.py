"""sklkws: scikit-learn-compatible keyword spotting and short-audio tagging.

Transformers (:mod:`sklkws.preprocessing`, :mod:`sklkws.features`) and augmentation
samplers (:mod:`sklkws.augment`) chain in Pipelines ending in Keras classifiers
(:mod:`sklkws.models`); :mod:`sklkws.export` turns a fitted pipeline into one small
on-device model. Importing the package itself pulls in neither TensorFlow nor librosa.
"""

__version__ = "0.1.0"
