// Stripe Elements for a card session, on the one console page that loads Stripe.js (its CSP
// allows https://js.stripe.com there and nowhere else). The page's `#card-session` element
// carries the publishable key, the SetupIntent's client secret and the console's return
// address; once Stripe has set the card up, the browser goes back to the console with the
// SetupIntent's id, as Stripe's own redirect would.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("card-session");
    if (!box || typeof window.Stripe !== "function") { return; }
    var stripe = window.Stripe(box.getAttribute("data-publishable-key"));
    var elements = stripe.elements();
    var card = elements.create("card");
    card.mount("#card-element");
    var form = document.getElementById("card-form");
    var errors = document.getElementById("card-errors");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      stripe.confirmCardSetup(box.getAttribute("data-client-secret"), {
        payment_method: { card: card }
      }).then(function (result) {
        if (result.error) {
          errors.textContent = result.error.message;
          errors.hidden = false;
          return;
        }
        var back = new URL(box.getAttribute("data-return-url"));
        back.searchParams.set("setup_intent", result.setupIntent.id);
        window.location.assign(back.toString());
      });
    });
  });
})();
