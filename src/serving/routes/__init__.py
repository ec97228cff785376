"""HTTP routes of the serving layer; they only translate HTTP and delegate to ``serving.scoring``."""
